// Our prebuilt labextension in Notebook 7 (from the pinned .venv): a cell makes a kernel-side WidgetModel with a
// FrameScrubber state, the view renders in the output area, and moving its slider reaches the kernel.
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { carTurnFrames, chromiumMissing, SCRUBBER_CELL, screenshot } from "./support/chromium";
import { withNotebookPage } from "./support/notebookPage";
import { SHARED } from "./sharedData";

test(
  "Notebook 7: the labextension renders a kernel's FrameScrubber and the slider updates the kernel",
  { skip: chromiumMissing() },
  async () => {
    const frames = await carTurnFrames(path.join(SHARED, "data"), 4, 96, "jpeg");
    await withNotebookPage(
      {
        cells: [SCRUBBER_CELL, 'console.log(`frame=${scrubber.get("frame")}`);'],
        files: Object.fromEntries(frames.map((jpeg, i) => [`frame${i}.jpg`, jpeg])),
        failureShot: "widget-notebook",
        viewport: { width: 1000, height: 700 },
      },
      async ({ page, execute, outputText, ownErrors }) => {
        await execute(0);
        const img = page.locator('[data-testid="fz-scrubber"] [data-testid="fz-row-0"]');
        await page.waitForFunction(
          () => (globalThis as any).document.querySelector('[data-testid="fz-row-0"]')?.naturalWidth === 96,
          undefined,
          { timeout: 30_000 },
        );
        assert.equal(await page.locator('[data-testid="fz-row-label-0"]').textContent(), "source");
        const version = Number(await img.getAttribute("data-version"));

        await page.locator('[data-testid="fz-frame-slider"]').evaluate((el: any) => {
          el.value = "2";
          el.dispatchEvent(new (globalThis as any).Event("input", { bubbles: true }));
        });
        assert.ok(Number(await img.getAttribute("data-version")) > version);
        // The update went out on the shell channel before this execute_request, so the kernel has it.
        await execute(1);
        const output = outputText(1);
        await output.waitFor({ timeout: 20_000 });
        assert.equal((await output.textContent())?.trim(), "frame=2");
        // After a kernel restart the extension attaches to the fresh kernel: the cell's new widget renders.
        await page.evaluate(async () => {
          const kernel = (globalThis as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          await kernel.restart();
          await new Promise<void>((resolve) => {
            const idle = () => kernel.status === "idle" && (kernel.statusChanged.disconnect(idle), resolve());
            kernel.statusChanged.connect(idle);
            idle();
          });
        });
        await execute(0);
        await page.waitForFunction(
          () => {
            const img = (globalThis as any).document.querySelector('[data-testid="fz-row-0"]');
            return img?.naturalWidth === 96 && img.dataset.version === "1";
          },
          undefined,
          { timeout: 30_000 },
        );
        await screenshot(page, "widget-notebook");
        assert.deepEqual(ownErrors(), [], "no page errors");
      },
    );
  },
);
