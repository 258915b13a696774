// The product's loop end to end: Notebook 7 (`jupyter notebook` from the pinned .venv) running our kernel, our prebuilt labextension in headless
// Chromium, and an EditStudio over a cached tiny-model inversion of car-turn. Moving the threshold slider
// changes the mask preview, picking a token shows its map, and Run streams progress and adds the edit.
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { chromiumMissing, screenshot } from "./support/chromium";
import { withNotebookPage } from "./support/notebookPage";
import { SHARED, tempDir } from "./sharedData";

const STUDIO_CELL = `import { loadModel, readVideo, invertVideo, InversionCache } from "fatezero";
import { EditStudio } from "fatezero/widgets";
const model = await loadModel("tiny");
const clip = await readVideo(process.env.FZ_CAR_TURN!, { size: 128, nSampleFrame: 3 });
const inversion = await invertVideo(model, { frames: clip.frames, frameCount: 3, height: 128, width: 128, prompt: "a silver jeep driving down a curvy road in the countryside", steps: 8 }, { cache: new InversionCache() });
const studio = await EditStudio.open({ model, clip, inversion, prompt: "a silver car driving down a curvy road in the countryside", blendWords: ["jeep"] });
studio.display();`;

const tid = (id: string) => `[data-testid="${id}"]`;

async function version(page: Page, id: string): Promise<number> {
  return Number(await page.locator(tid(id)).getAttribute("data-version"));
}

async function waitForVersionAbove(page: Page, id: string, v: number): Promise<void> {
  await page.waitForFunction(
    ([sel, min]) => Number((globalThis as any).document.querySelector(sel)?.dataset.version) > min,
    [tid(id), v] as const,
    { timeout: 20_000 },
  );
}

function pixels(page: Page, id: string): Promise<string> {
  return page.locator(tid(id)).evaluate((c: any) => c.toDataURL());
}

/** Set a range input the way a drag does: new value, then an `input` event. */
async function drag(page: Page, id: string, value: number): Promise<void> {
  await page.locator(tid(id)).evaluate((el: any, v) => {
    el.value = String(v);
    el.dispatchEvent(new (globalThis as any).Event("input", { bubbles: true }));
  }, value);
}

test(
  "studio in Notebook 7: threshold → mask preview, token → its map, Run → progress and the edit, Cancel",
  { skip: chromiumMissing() },
  async () => {
    await withNotebookPage(
      {
        cells: [
          STUDIO_CELL,
          'console.log(JSON.stringify({ threshold: studio.tuner.get("threshold"), token: studio.viewer.get("token") }));',
        ],
        // The tiny model takes its vocabulary from CLIP's merge list when it can find it, so "jeep" is one token.
        env: {
          FZ_CAR_TURN: path.join(SHARED, "data/car-turn"),
          FATEZERO_CACHE: tempDir("studio-e2e-cache"),
          FATEZERO_CLIP_MERGES: path.join(SHARED, "data/clip/bpe_simple_vocab_16e6.txt.gz"),
        },
        failureShot: "studio-failure",
        viewport: { width: 1100, height: 1400 },
      },
      async ({ page, execute, outputText, ownErrors }) => {
        await execute(0);
        await page.waitForSelector(tid("fz-mask-0"), { timeout: 120_000 });
        await page.waitForFunction(
          () => ((globalThis as any).document.querySelector('[data-testid="fz-row-0"]')?.naturalWidth ?? 0) > 0,
          undefined,
          { timeout: 20_000 },
        );
        await waitForVersionAbove(page, "fz-mask-0", 0);
        await screenshot(page, "studio-initial");

        // Threshold: the kernel recomputes the mask from the cached maps; canvas pixels and area follow.
        const maskBefore = await pixels(page, "fz-mask-0");
        const areaBefore = await page.locator(tid("fz-area-0")).textContent();
        const maskVersion = await version(page, "fz-mask-0");
        await drag(page, "fz-threshold", 0.9);
        await waitForVersionAbove(page, "fz-mask-0", maskVersion);
        assert.notEqual(await pixels(page, "fz-mask-0"), maskBefore, "the mask preview changed");
        assert.notEqual(await page.locator(tid("fz-area-0")).textContent(), areaBefore, "the mask area changed");
        await screenshot(page, "studio-threshold");

        // Token: the chip of "jeep" (position 3) shows that token's map.
        const heatBefore = await pixels(page, "fz-heatmap-0");
        const heatVersion = await version(page, "fz-heatmap-0");
        assert.equal(await page.locator(tid("fz-token-3")).textContent(), "jeep");
        await page.locator(tid("fz-token-3")).click();
        await waitForVersionAbove(page, "fz-heatmap-0", heatVersion);
        assert.notEqual(await pixels(page, "fz-heatmap-0"), heatBefore, "the heat map changed");
        assert.equal(await page.locator(tid("fz-token-3")).getAttribute("aria-pressed"), "true");
        await screenshot(page, "studio-token");

        // The kernel holds what the frontend set.
        await execute(1);
        const out = outputText(1);
        await out.waitFor({ timeout: 20_000 });
        assert.deepEqual(JSON.parse((await out.textContent())!.trim()), { threshold: 0.9, token: 3 });

        // Run: progress streams into the panel, then the edit appears as a second scrubber row.
        await page.evaluate(() => {
          const w = globalThis as any;
          w.__statuses = [];
          const status = w.document.querySelector('[data-testid="fz-status"]');
          new w.MutationObserver(() => w.__statuses.push(status.textContent)).observe(status, {
            childList: true,
            characterData: true,
            subtree: true,
          });
        });
        await page.locator(tid("fz-run")).click();
        await page.waitForFunction(
          () => /edit done/.test((globalThis as any).document.querySelector('[data-testid="fz-status"]')?.textContent ?? ""),
          undefined,
          { timeout: 120_000 },
        );
        const statuses: string[] = await page.evaluate(() => (globalThis as any).__statuses);
        assert.ok(
          statuses.some((s) => /running \d+\/8/.test(s)),
          `progress was shown: ${statuses.join(" | ")}`,
        );
        assert.equal(await page.locator(tid("fz-row-label-1")).textContent(), "edit");
        await page.waitForFunction(
          () => ((globalThis as any).document.querySelector('[data-testid="fz-row-1"]')?.naturalWidth ?? 0) > 0,
          undefined,
          { timeout: 20_000 },
        );
        assert.equal(await page.locator(tid("fz-panel-error")).textContent(), "");
        await screenshot(page, "studio-run");

        // Cancel: a second run stops at its next step and says so; the edit row keeps the first result.
        await page.locator(tid("fz-run")).click();
        await page.waitForFunction(() => !(globalThis as any).document.querySelector('[data-testid="fz-cancel"]')?.disabled, undefined, {
          timeout: 20_000,
        });
        await page.locator(tid("fz-cancel")).click();
        await page.waitForFunction(
          () => (globalThis as any).document.querySelector('[data-testid="fz-status"]')?.textContent === "cancelled",
          undefined,
          { timeout: 60_000 },
        );
        assert.equal(await page.locator(tid("fz-panel-error")).textContent(), "");
        assert.equal(await page.locator(tid("fz-run")).isDisabled(), false, "Run is available again");
        assert.deepEqual(ownErrors(), [], "no page errors");
      },
    );
  },
);
