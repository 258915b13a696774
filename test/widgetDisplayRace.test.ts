// The studio's views in JupyterLab 4.6 and Notebook 7 with a live kernel: opened and displayed many times in a
// row, every view renders and none says "Error displaying widget"; a reloaded page renders the views of the
// models the running kernel still has; and the error appears only where it is true: after a kernel restart,
// the saved outputs name models the new kernel never had.
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { chromiumMissing, launchChromium, pageErrors, screenshot, tsNotebook } from "./support/chromium";
import { labMissing, withLab, type LabServer } from "./support/jupyterLab";
import { SHARED, tempDir } from "./sharedData";

/** How many times the studio is opened and displayed in a row per host (FZ_DISPLAY_REPEATS overrides). */
const REPEATS = Number(process.env.FZ_DISPLAY_REPEATS ?? 50);
const skip = chromiumMissing() || labMissing();

const SETUP_CELL = `import { loadModel, readVideo, invertVideo, InversionCache } from "fatezero";
import { EditStudio } from "fatezero/widgets";
const model = await loadModel("tiny");
const clip = await readVideo(process.env.FZ_CAR_TURN!, { size: 64, nSampleFrame: 2 });
const inversion = await invertVideo(model, { frames: clip.frames, frameCount: 2, height: 64, width: 64, prompt: "a silver jeep driving down a curvy road", steps: 2 }, { cache: new InversionCache() });
console.log("ready");`;
const STUDIO_CELL = `(await EditStudio.open({ model, clip, inversion, prompt: "a silver car driving down a curvy road", blendWords: ["jeep"] })).display();`;
const VIEW_ROOTS = ["fz-scrubber", "fz-viewer", "fz-tuner", "fz-panel"];
const ERROR = "Error displaying widget";

const ENV = {
  FZ_CAR_TURN: path.join(SHARED, "data/car-turn"),
  FATEZERO_CACHE: tempDir("display-race-cache"),
  FATEZERO_CLIP_MERGES: path.join(SHARED, "data/clip/bpe_simple_vocab_16e6.txt.gz"),
};

/** What cell `index`'s outputs show: its execution count, how many outputs, how many are our views, and the others' text. */
function outcome(page: Page, index: number): Promise<{ count: number | null; outputs: number; views: number; texts: string[] }> {
  return page.evaluate(
    ([i, roots]) => {
      const cell = (globalThis as any).jupyterapp.shell.currentWidget.content.widgets[i];
      const outputs: any[] = Array.from(cell.node.querySelectorAll(".jp-OutputArea-output"));
      const rendered = (o: any) => roots.some((r) => o.querySelector(`[data-testid="${r}"]`));
      return {
        count: cell.model.executionCount,
        outputs: outputs.length,
        views: outputs.filter(rendered).length,
        texts: outputs.filter((o) => !rendered(o)).map((o) => o.textContent ?? ""),
      };
    },
    [index, VIEW_ROOTS] as const,
  );
}

/** Wait until cell `index` shows `outputs` outputs, each a view of ours or an error; false if that never happens. */
function settled(page: Page, index: number, outputs: number, executionCount?: number): Promise<boolean> {
  return page
    .waitForFunction(
      ([i, n, count, roots, error]) => {
        const cell = (globalThis as any).jupyterapp.shell.currentWidget.content.widgets[i];
        if (count !== undefined && cell.model.executionCount !== count) return false;
        const shown: any[] = Array.from(cell.node.querySelectorAll(".jp-OutputArea-output"));
        const done = (o: any) => roots.some((r) => o.querySelector(`[data-testid="${r}"]`)) || (o.textContent ?? "").startsWith(error);
        return shown.length === n && shown.every(done);
      },
      [index, outputs, executionCount, VIEW_ROOTS, ERROR] as const,
      { timeout: 60_000 },
    )
    .then(
      () => true,
      () => false,
    );
}

/** Run cell `index` with the notebook's own command. */
function execute(page: Page, index: number): Promise<void> {
  return page.evaluate(async (i) => {
    const app = (globalThis as any).jupyterapp;
    app.shell.currentWidget.content.activeCellIndex = i;
    await app.commands.execute("notebook:run-cell");
  }, index);
}

/** Open `file` in the host's notebook page and wait for our plugin and an idle kernel. */
async function open(page: Page, lab: LabServer, app: "lab" | "notebook", file: string, cells: number): Promise<void> {
  await page.goto(`${lab.url}/${app === "lab" ? "lab/tree" : "notebooks"}/${file}?token=${lab.token}`);
  await page.waitForFunction(
    (n) => {
      const jupyterapp = (globalThis as any).jupyterapp;
      const panel = jupyterapp?.shell?.currentWidget;
      return (
        jupyterapp?.isPluginActivated("fatezero-widgets:plugin") &&
        panel?.sessionContext?.session?.kernel?.status === "idle" &&
        panel.content?.widgets?.length === n
      );
    },
    cells,
    { timeout: 120_000 },
  );
}

for (const app of ["lab", "notebook"] as const) {
  const host = app === "lab" ? "JupyterLab" : "Notebook 7";
  test(
    `${host}: the studio opened and displayed ${REPEATS} times in a row renders every view, a reload renders them again, and only after a restart are they errors`,
    { skip, timeout: 900_000 },
    async () => {
      const files = { "race.ipynb": Buffer.from(tsNotebook([SETUP_CELL, STUDIO_CELL])) };
      await withLab({ app, env: ENV, files }, async (lab) => {
        const browser = await launchChromium();
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        const errors = pageErrors(page);
        try {
          await open(page, lab, app, "race.ipynb", 2);
          await execute(page, 0);
          await page.locator(".jp-Cell").nth(0).locator(".jp-OutputArea-output", { hasText: "ready" }).waitFor({ timeout: 300_000 });

          // Each run replaces the cell's four outputs with views of four new models.
          const failures: string[] = [];
          for (let run = 1; run <= REPEATS; run++) {
            await execute(page, 1);
            const done = await settled(page, 1, VIEW_ROOTS.length, run + 1);
            const seen = await outcome(page, 1);
            if (!done || seen.views !== VIEW_ROOTS.length) failures.push(`run ${run}: ${JSON.stringify(seen)}`);
          }
          console.log(
            `${host}: ${REPEATS} displays, ${failures.length} with a view missing or an error${failures.length ? `: ${failures.join("; ")}` : ""}`,
          );
          assert.deepEqual(failures, [], "every display renders its four views");

          // The kernel still has the last run's models: a reloaded page renders their views, with no error.
          await page.evaluate(() => (globalThis as any).jupyterapp.commands.execute("docmanager:save"));
          await page.reload();
          await open(page, lab, app, "race.ipynb", 2);
          assert.ok(await settled(page, 1, VIEW_ROOTS.length), `after a reload: ${JSON.stringify(await outcome(page, 1))}`);
          assert.equal((await outcome(page, 1)).views, VIEW_ROOTS.length, "the reloaded page shows the live models' views");

          // After a restart the kernel has none of them: the saved outputs, reloaded, say so.
          await page.evaluate(() => (globalThis as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart());
          await page.reload();
          await open(page, lab, app, "race.ipynb", 2);
          assert.ok(await settled(page, 1, VIEW_ROOTS.length), `after a restart: ${JSON.stringify(await outcome(page, 1))}`);
          const restarted = await outcome(page, 1);
          assert.equal(restarted.views, 0);
          for (const text of restarted.texts)
            assert.match(text, new RegExp(`^${ERROR}`), "an output of a model the kernel lost is an error");
        } catch (err) {
          await screenshot(page, `display-race-${app}`).catch(() => undefined);
          throw new Error(`${(err as Error).message}\npage errors: ${errors.join("\n")}\nserver: ${lab.log().slice(-3000)}`);
        } finally {
          await browser.close();
        }
      });
    },
  );
}
