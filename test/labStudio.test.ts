// The EditStudio and the quickstart inside the pip-installed JupyterLab 4.6 (.venv), driven through Lab's UI (menus,
// clicks, keys): run all, the four widgets render, a token chip redraws the heat map, a threshold drag
// changes the mask and its area, Run streams progress and adds the edit row, Cancel stops a second run,
// Lab's Interrupt stops a long cell, Restart then Run All re-attaches the widgets, saving stores the widget
// state and the saved file renders through `fatezero export-html`, and the dark theme stays readable.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { Locator, Page } from "playwright-core";
import { exportHtml } from "../cli/exportHtml";
import { chromiumMissing, launchChromium, screenshot } from "./support/chromium";
import { labMissing, withLab } from "./support/jupyterLab";
import { tempDir } from "./sharedData";

const skip = chromiumMissing() || labMissing();
const QUICKSTART = path.resolve("notebooks/quickstart.ipynb");

/** Lab's menu bar: open `menu`, then click `item` (a label as Lab shows it). */
async function menu(page: Page, menuName: string, item: string): Promise<void> {
  await page.locator(".lm-MenuBar-itemLabel", { hasText: new RegExp(`^${menuName}$`) }).click();
  await page
    .locator(".lm-Menu-itemLabel", { hasText: new RegExp(`^${item}`) })
    .first()
    .click();
}

/** The data-version of an element, which the views bump on every redraw. */
async function version(locator: Locator): Promise<number> {
  return Number((await locator.getAttribute("data-version")) ?? "0");
}

/** Wait until the notebook's kernel is idle (Lab's execution indicator in the notebook toolbar). */
async function kernelIdle(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    () => (globalThis as any).document.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") === "idle",
    null,
    { timeout },
  );
}

test("JupyterLab: the quickstart's EditStudio in Lab, through Lab's own UI", { skip, timeout: 900_000 }, async () => {
  const figures = tempDir("lab-figures");
  await withLab(
    {
      settings: { "@jupyter-widgets/jupyterlab-manager/plugin": { saveState: true } },
      files: { "quickstart.ipynb": QUICKSTART },
      env: { FATEZERO_FIGURES_DIR: figures },
    },
    async (lab) => {
      const browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
      const problems: { text: string; source: string }[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push({ text: m.text(), source: m.location().url });
      });
      page.on("pageerror", (e) => problems.push({ text: `${e.name}: ${e.message}`, source: e.stack ?? "" }));
      try {
        await page.goto(`${lab.url}/lab/tree/quickstart.ipynb?reset&token=${lab.token}`);
        await page.locator(".jp-NotebookPanel .jp-Cell").first().waitFor({ timeout: 120_000 });
        // The notebook's kernelspec (FateZero) starts, then goes idle.
        await page.locator(".jp-Toolbar-kernelName", { hasText: "FateZero" }).first().waitFor({ timeout: 60_000 });
        await kernelIdle(page);

        // Run all: the studio renders its four widgets.
        await menu(page, "Run", "Run All Cells");
        const scrubber = page.locator('[data-testid="fz-scrubber"]').first();
        await scrubber.waitFor({ timeout: 300_000 });
        for (const id of ["fz-viewer", "fz-tuner", "fz-panel"]) await page.locator(`[data-testid="${id}"]`).first().waitFor();
        await kernelIdle(page, 600_000);
        await page.locator('[data-testid="fz-viewer"]').first().scrollIntoViewIfNeeded();
        await screenshot(page, "lab-studio-initial");

        // A token chip redraws the heat map.
        const heat = page.locator('[data-testid="fz-heatmap-0"]').first();
        const before = await version(heat);
        const chips = page.locator('[data-testid^="fz-token-"]:not(.fz-selected)');
        await chips.nth(2).click();
        await page.waitForFunction(
          (v) => Number((globalThis as any).document.querySelector('[data-testid="fz-heatmap-0"]')?.getAttribute("data-version")) > v,
          before,
        );
        await screenshot(page, "lab-studio-token");

        // Dragging the threshold to its low end changes the mask and its area. (A trained model's attention is
        // nearly binary, so thresholds well inside (0, 1) can give the same mask; near 0 everything attended passes.)
        const tuner = page.locator('[data-testid="fz-tuner"]').first();
        await tuner.scrollIntoViewIfNeeded();
        const area = page.locator('[data-testid="fz-area-0"]').first();
        const areaBefore = await area.textContent();
        const mask = page.locator('[data-testid="fz-mask-0"]').first();
        const maskBefore = await version(mask);
        const slider = page.locator('[data-testid="fz-threshold"]').first();
        const box = (await slider.boundingBox())!;
        await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
        await page.mouse.down();
        await page.mouse.move(box.x + 1, box.y + box.height / 2, { steps: 8 });
        await page.mouse.up();
        await page.waitForFunction(
          (v) => Number((globalThis as any).document.querySelector('[data-testid="fz-mask-0"]')?.getAttribute("data-version")) > v,
          maskBefore,
        );
        await page.waitForFunction(
          (t) => (globalThis as any).document.querySelector('[data-testid="fz-area-0"]')?.textContent !== t,
          areaBefore,
        );
        await screenshot(page, "lab-studio-threshold");

        // Run streams progress and puts the edit into the scrubber; Cancel stops a second run.
        const panel = page.locator('[data-testid="fz-panel"]').first();
        await panel.scrollIntoViewIfNeeded();
        const status = page.locator('[data-testid="fz-status"]').first();
        await page.locator('[data-testid="fz-run"]').first().click();
        // While the edit runs, Lab's kernel indicator says busy (the kernel holds the Run message busy).
        await page.waitForFunction(
          () => {
            const doc = (globalThis as any).document;
            const running = /running \d+\/\d+/.test(doc.querySelector('[data-testid="fz-status"]')?.textContent ?? "");
            return running && doc.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") === "busy";
          },
          null,
          { timeout: 120_000 },
        );
        await page.waitForFunction(
          () => /edit done/.test((globalThis as any).document.querySelector('[data-testid="fz-status"]')?.textContent ?? ""),
          null,
          {
            timeout: 300_000,
          },
        );
        await screenshot(page, "lab-studio-run");
        await kernelIdle(page);
        await page.locator('[data-testid="fz-run"]').first().click();
        await page.waitForFunction(
          () => /running/.test((globalThis as any).document.querySelector('[data-testid="fz-status"]')?.textContent ?? ""),
          null,
          {
            timeout: 60_000,
          },
        );
        await page.locator('[data-testid="fz-cancel"]').first().click();
        await page.waitForFunction(
          () => /cancelled/.test((globalThis as any).document.querySelector('[data-testid="fz-status"]')?.textContent ?? ""),
          null,
          {
            timeout: 120_000,
          },
        );
        assert.equal(await page.locator('[data-testid="fz-panel-error"]').first().textContent(), "");
        assert.ok(await page.locator('[data-testid="fz-run"]').first().isEnabled(), `Run is enabled again: ${await status.textContent()}`);

        // Lab's Interrupt stops a long cell: a new cell at the end, run with Shift+Enter.
        await page.locator(".jp-NotebookPanel .jp-Cell").last().click();
        await page.keyboard.press("Escape");
        await page.keyboard.press("b");
        await page.keyboard.press("Enter");
        await page.keyboard.type("await new Promise((resolve) => setTimeout(resolve, 300000));");
        await page.keyboard.press("Shift+Enter");
        await page.waitForFunction(
          () => (globalThis as any).document.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") === "busy",
        );
        await menu(page, "Kernel", "Interrupt Kernel");
        await page.locator(".jp-OutputArea-output", { hasText: "interrupted" }).last().waitFor({ timeout: 60_000 });
        await kernelIdle(page);
        // Delete that cell (command mode, d d), so the Run All after the restart below does not wait it out.
        await page.locator(".jp-NotebookPanel .jp-Cell", { hasText: "300000" }).last().locator(".jp-InputPrompt").click();
        await page.keyboard.press("Escape");
        await page.keyboard.press("d");
        await page.keyboard.press("d");
        await page.locator(".jp-NotebookPanel .jp-Cell", { hasText: "300000" }).waitFor({ state: "detached", timeout: 10_000 });

        // Save: the widget state goes into the file, and the file renders through export-html.
        const file = path.join(lab.root, "quickstart.ipynb");
        const mtime = fs.statSync(file).mtimeMs;
        await page.locator(".jp-NotebookPanel .jp-Cell").first().click();
        await page.keyboard.press("Control+s");
        for (let i = 0; i < 300 && fs.statSync(file).mtimeMs === mtime; i++) await page.waitForTimeout(100);
        // The server writes the file in place: read it once it parses.
        let saved: { metadata?: Record<string, any> } = {};
        for (let i = 0; i < 50; i++) {
          try {
            saved = JSON.parse(fs.readFileSync(file, "utf8"));
            break;
          } catch {
            await page.waitForTimeout(100);
          }
        }
        const state = saved.metadata?.widgets?.["application/vnd.jupyter.widget-state+json"]?.state ?? {};
        const models = Object.values(state) as { model_name: string }[];
        for (const name of ["FrameScrubberModel", "CrossAttentionViewerModel", "MaskTunerModel", "EditPanelModel"]) {
          assert.ok(
            models.some((m) => m.model_name === name),
            `the saved notebook holds a ${name}'s state: ${JSON.stringify(saved.metadata).slice(0, 400)}`,
          );
        }
        const html = exportHtml(path.join(lab.root, "quickstart.ipynb"), tempDir("lab-export"));
        const exported = await browser.newPage();
        await exported.goto(`file://${html}`);
        await exported.locator('[data-testid="fz-scrubber"]').first().waitFor({ timeout: 60_000 });
        await exported.close();

        // Restart, then Run All: the re-run cells' widgets render against the new kernel's models. The views
        // shown before the restart are marked, so what is checked and photographed below is the re-run's.
        const VIEWS = ["fz-scrubber", "fz-viewer", "fz-tuner", "fz-panel"];
        const marked = await page.evaluate((ids) => {
          const views = ids.flatMap((id) => Array.from((globalThis as any).document.querySelectorAll(`[data-testid="${id}"]`)) as any[]);
          views.forEach((el) => el.setAttribute("data-before-restart", ""));
          return views.length;
        }, VIEWS);
        assert.ok(marked >= VIEWS.length, `the studio's views before the restart: ${marked}`);
        await menu(page, "Kernel", "Restart Kernel");
        await page.locator(".jp-Dialog-button.jp-mod-accept").click();
        await kernelIdle(page);
        await menu(page, "Run", "Run All Cells");
        await page.waitForFunction(
          () => (globalThis as any).document.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") === "busy",
        );
        await kernelIdle(page, 600_000);
        // The studio cell again, by its fresh views (the windowed notebook may have detached the cell: scroll
        // the notebook to it through Lab, then wait for its views to be in the page and drawn).
        const fresh = (id: string) => page.locator(`[data-testid="${id}"]:not([data-before-restart])`).first();
        await page.evaluate(() => {
          const notebook = (globalThis as any).jupyterapp.shell.currentWidget.content;
          const index = notebook.widgets.findIndex((cell: any) => /EditStudio\.open/.test(cell.model.sharedModel.getSource()));
          notebook.activeCellIndex = index;
          return notebook.scrollToItem(index, "start");
        });
        for (const id of VIEWS) await fresh(id).waitFor({ timeout: 60_000 });
        await fresh("fz-scrubber").scrollIntoViewIfNeeded();
        await page.waitForFunction(
          () => {
            const doc = (globalThis as any).document;
            const scrubber = doc.querySelector('[data-testid="fz-scrubber"]:not([data-before-restart])');
            const imgs: any[] = Array.from(scrubber?.querySelectorAll("img") ?? []);
            const box = scrubber?.getBoundingClientRect();
            return (
              imgs.length >= 3 &&
              imgs.every((img) => img.complete && img.naturalWidth > 0) &&
              box &&
              box.top < (globalThis as any).innerHeight &&
              box.bottom > 0
            );
          },
          null,
          { timeout: 60_000 },
        );
        const restarted = await page.evaluate(() => {
          const doc = (globalThis as any).document;
          const scrubber = doc.querySelector('[data-testid="fz-scrubber"]:not([data-before-restart])');
          const viewer = doc.querySelector('[data-testid="fz-viewer"]:not([data-before-restart])');
          return {
            rows: Array.from(scrubber.querySelectorAll('[data-testid^="fz-row-label-"]')).map((el: any) => el.textContent),
            heatmapDrawn: Number(viewer?.querySelector('[data-testid="fz-heatmap-0"]')?.getAttribute("data-version") ?? 0) > 0,
            errors: Array.from(doc.querySelectorAll(".jp-OutputArea-output"))
              .map((el: any) => el.textContent ?? "")
              .filter((t: string) => /Error displaying widget|not in the running kernel/.test(t)),
          };
        });
        assert.deepEqual(restarted.rows, ["source", "reconstruction", "edit"], "the re-run scrubber shows the reconstruction and the edit");
        assert.ok(restarted.heatmapDrawn, "the re-run viewer drew its heat map");
        assert.deepEqual(restarted.errors, [], "no output says its widget is missing");
        await screenshot(page, "lab-restart");

        // The dark theme: the views take Lab's colours.
        await menu(page, "Settings", "Theme");
        await page.locator(".lm-Menu-itemLabel", { hasText: /^JupyterLab Dark$/ }).click();
        await page.waitForFunction(() => (globalThis as any).document.body.dataset.jpThemeLight === "false");
        await page.locator("#jupyterlab-splash").waitFor({ state: "detached", timeout: 30_000 });
        const colour = await page
          .locator(".fz-widget")
          .first()
          .evaluate((el) => (globalThis as any).getComputedStyle(el).color);
        assert.notEqual(colour, "rgb(34, 34, 34)", "the widget text is not the light theme's dark grey on a dark background");
        await screenshot(page, "lab-studio-dark");

        const ours = problems.filter((p) => /fatezero/i.test(p.source + p.text));
        assert.deepEqual(ours, [], "no console errors from the project's code");
        fs.writeFileSync(
          path.join(path.dirname(await screenshot(page, "lab-studio-final")), "lab-console-errors.txt"),
          problems.map((p) => `${p.source}: ${p.text}`).join("\n") + "\n",
        );
      } catch (e) {
        await screenshot(page, "lab-failure").catch(() => undefined);
        throw new Error(`${(e as Error).message}\nserver log:\n${lab.log().slice(-3000)}`);
      } finally {
        await browser.close();
      }
    },
  );
});
