// The nbextension in Debian's classic Notebook 6 UI: a cell makes a kernel-side WidgetModel with a
// FrameScrubber state, the view renders in the output area, and moving its slider reaches the kernel.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { carTurnFrames, chromiumMissing, launchChromium, pageErrors, SCRUBBER_CELL, screenshot, tsNotebook } from "./support/chromium";
import { withJupyterServer } from "./support/jupyterServer";
import { SHARED } from "./sharedData";

const BIN = path.resolve(__dirname, "../../bin/fatezero.js");

test("classic notebook: the nbextension renders a kernel's FrameScrubber and the slider updates the kernel", { skip: chromiumMissing() }, async () => {
  const frames = await carTurnFrames(path.join(SHARED, "data"), 4, 96, "jpeg");
  await withJupyterServer(
    {
      prepare: (dirs, env) => {
        for (const args of [["kernel", "install", "--prefix", dirs.prefix], ["widgets", "install", "--prefix", dirs.prefix]]) {
          const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8", timeout: 30_000 });
          assert.equal(r.status, 0, `fatezero ${args.join(" ")}: ${r.stderr}${r.stdout}`);
        }
        // Jupyter reads a prefix's etc/jupyter only for its own sys.prefix, or through this variable.
        env.JUPYTER_CONFIG_PATH = path.join(dirs.prefix, "etc", "jupyter");
        frames.forEach((jpeg, i) => fs.writeFileSync(path.join(dirs.notebooks, `frame${i}.jpg`), jpeg));
        fs.writeFileSync(path.join(dirs.notebooks, "widgets.ipynb"), tsNotebook([SCRUBBER_CELL, 'console.log(`frame=${scrubber.get("frame")}`);']));
      },
    },
    async (server) => {
      const browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
      const errors = pageErrors(page);
      try {
        await page.goto(`${server.baseUrl}notebooks/widgets.ipynb?token=${server.settings.token}`);
        // The kernel is connected and our extension loaded (the notebook loads nbextensions after the page).
        await page.waitForFunction(() => {
          const w = globalThis as any;
          return w.Jupyter?.notebook?.kernel?.is_connected() && w.requirejs?.defined("nbextensions/fatezero-widgets/index");
        }, undefined, { timeout: 30_000 });
        await page.evaluate(() => (globalThis as any).Jupyter.notebook.get_cell(0).execute());
        const img = page.locator('[data-testid="fz-scrubber"] [data-testid="fz-row-0"]');
        await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid="fz-row-0"]')?.naturalWidth === 96, undefined, { timeout: 30_000 });
        assert.equal(await page.locator('[data-testid="fz-row-label-0"]').textContent(), "source");
        const version = Number(await img.getAttribute("data-version"));

        await page.locator('[data-testid="fz-frame-slider"]').evaluate((el: any) => {
          el.value = "2";
          el.dispatchEvent(new (globalThis as any).Event("input", { bubbles: true }));
        });
        assert.ok(Number(await img.getAttribute("data-version")) > version);
        // The update went out on the shell channel before this execute_request, so the kernel has it.
        await page.evaluate(() => (globalThis as any).Jupyter.notebook.get_cell(1).execute());
        const output = page.locator(".cell").nth(1).locator(".output_text");
        await output.waitFor({ timeout: 20_000 });
        assert.equal((await output.textContent())?.trim(), "frame=2");
        // After a kernel restart the extension attaches to the fresh kernel: the cell's new widget renders.
        await page.evaluate(() => new Promise<void>((resolve) => {
          const nb = (globalThis as any).Jupyter.notebook;
          nb.events.one("kernel_ready.Kernel", () => resolve());
          nb.kernel.restart();
        }));
        await page.evaluate(() => (globalThis as any).Jupyter.notebook.get_cell(0).execute());
        await page.waitForFunction(() => {
          const img = (globalThis as any).document.querySelector('[data-testid="fz-row-0"]');
          return img?.naturalWidth === 96 && img.dataset.version === "1";
        }, undefined, { timeout: 30_000 });
        await screenshot(page, "widget-notebook");
        // Notebook 6's main.js always asks for ipywidgets 5's extension path; that 404 is not ours.
        const ours = errors.filter((e) => !e.includes("widgets/notebook/js/extension") && !e.startsWith("Failed to load resource"));
        assert.deepEqual(ours, [], "no page errors");
      } catch (err) {
        await screenshot(page, "widget-notebook").catch(() => undefined);
        throw new Error(`${(err as Error).message}\npage errors: ${errors.join("\n")}\nserver: ${server.log().slice(-2000)}`);
      } finally {
        await browser.close();
      }
    },
  );
});
