// What a person sees on the world model, in a live Notebook 7: the EditStudio over world clip 13. The
// vehicle's token lights up the vehicle (more attention inside its true mask than outside), the blend mask
// covers the vehicle (IoU with the true mask), and an attribute edit (red → blue car, blend word "car") changes
// the vehicle more than the rest (against the reconstruction). Whether the vehicle really turns blue is edit
// quality, scored by `fatezero world-bench` (colorAccuracy), not here. Screenshots are kept in test-artifacts/.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Locator, Page } from "playwright-core";
import * as fs from "node:fs";
import * as path from "node:path";
import { ARTIFACTS, chromiumMissing } from "./support/chromium";
import { withNotebookPage } from "./support/notebookPage";
import { tempDir } from "./sharedData";

const STUDIO_CELL = `import { loadModel, renderWorldClip, SAMPLE_ATTRIBUTES, SAMPLE_CLIP_PROMPT, invertVideo, InversionCache, downsampleMask, maskIou, dominantColour, psnr } from "fatezero";
import { EditStudio } from "fatezero/widgets";
const model = await loadModel();
const world = renderWorldClip(13, SAMPLE_ATTRIBUTES);
const clip = world.clip;
const inversion = await invertVideo(model, { frames: clip.frames, frameCount: clip.count, height: clip.height, width: clip.width, prompt: SAMPLE_CLIP_PROMPT, steps: 20 }, { cache: new InversionCache() });
const studio = await EditStudio.open({ model, clip, inversion, prompt: SAMPLE_CLIP_PROMPT.replace("red", "blue"), controller: "replace", blendWords: ["car"] });
studio.display();
await studio.reconstruct();`;

/** The heat map's mean inside and outside the vehicle, how many frames' brightest cell is on it, and the blend mask's IoU with the vehicle, as JSON. */
const SCORE_CELL = `const bytes = (b: unknown) => (b instanceof DataView ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : (b as Uint8Array));
const F = clip.count;
const v = studio.viewer.state();
const vehicleAtMap = downsampleMask(world.masks.vehicle, F, clip.height, clip.width, clip.height / v.map_height);
const heat = bytes(v.heatmap);
let [inside, nInside, outside, nOutside] = [0, 0, 0, 0];
for (let i = 0; i < heat.length; i++) if (vehicleAtMap[i]) { inside += heat[i]; nInside++; } else { outside += heat[i]; nOutside++; }
const L = v.map_height * v.map_width;
let peaksOnVehicle = 0;
for (let f = 0; f < F; f++) { let p = f * L; for (let i = f * L; i < (f + 1) * L; i++) if (heat[i] > heat[p]) p = i; if (vehicleAtMap[p]) peaksOnVehicle++; }
const t = studio.tuner.state();
const vehicleAtMask = downsampleMask(world.masks.vehicle, F, clip.height, clip.width, clip.height / t.mask_height);
console.log(JSON.stringify({ token: v.tokens[v.token], frames: F, peaksOnVehicle, heatInside: inside / nInside, heatOutside: outside / nOutside, maskIou: maskIou(bytes(t.mask), vehicleAtMask) }));`;

/** After the Run: the colour on the vehicle, the background kept, and the edit vs the reconstruction in and out of the vehicle, as JSON. */
const EDIT_CELL = `const edited = studio.results.get("edit")!.frames;
const background = world.masks.vehicle.map((m: number) => 1 - m);
const reconstruction = studio.results.get("reconstruction")!.frames;
console.log(JSON.stringify({ colour: dominantColour(edited, world.masks.vehicle), backgroundPsnr: psnr(edited, clip.frames, background), vsReconInside: psnr(edited, reconstruction, world.masks.vehicle), vsReconOutside: psnr(edited, reconstruction, background) }));`;

const tid = (id: string) => `[data-testid="${id}"]`;

/** A screenshot of one widget, kept in test-artifacts/. */
async function widgetShot(page: Page, testid: string, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page
    .locator(tid(testid))
    .first()
    .screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

async function cellJson(out: Locator): Promise<Record<string, unknown>> {
  await out.waitFor({ timeout: 60_000 });
  return JSON.parse((await out.textContent())!.trim());
}

test(
  "world model in the studio: the vehicle's token lights up the vehicle, the mask covers it, the edit changes the vehicle most",
  { skip: chromiumMissing() },
  async () => {
    await withNotebookPage(
      {
        cells: [STUDIO_CELL, SCORE_CELL, EDIT_CELL],
        env: { FATEZERO_CACHE: tempDir("world-studio-cache") },
        failureShot: "world-studio-failure",
        viewport: { width: 1100, height: 1500 },
      },
      async ({ page, execute, outputText, ownErrors }) => {
        await execute(0);
        await page.waitForSelector(tid("fz-row-label-1"), { timeout: 180_000 });
        assert.equal(await page.locator(tid("fz-row-label-1")).textContent(), "reconstruction");

        // The chip of "car" selects its map, averaged over the inversion's steps.
        const chips = await page.locator('[data-testid^="fz-token-"]').allTextContents();
        const car = chips.indexOf("car");
        assert.ok(car > 0, `a "car" chip: ${chips.join(" ")}`);
        const heatVersion = Number(await page.locator(tid("fz-heatmap-0")).getAttribute("data-version"));
        await page.locator(tid(`fz-token-${car}`)).click();
        await page.waitForFunction(
          ([sel, min]) => Number((globalThis as any).document.querySelector(sel)?.dataset.version) > min,
          [tid("fz-heatmap-0"), heatVersion] as const,
          { timeout: 20_000 },
        );
        await widgetShot(page, "fz-viewer", "world-viewer-vehicle");
        await widgetShot(page, "fz-tuner", "world-tuner-mask");
        // The absolute scale puts every frame on one colour bar (0 … heat_max), for comparing frames.
        const perFrame = Number(await page.locator(tid("fz-heatmap-0")).getAttribute("data-version"));
        await page.locator(tid("fz-scale")).selectOption("absolute");
        await page.waitForFunction(
          ([sel, v]) => Number((globalThis as any).document.querySelector(sel)?.dataset.version) > v,
          [tid("fz-heatmap-0"), perFrame] as const,
          { timeout: 20_000 },
        );
        assert.match((await page.locator(tid("fz-heat-max")).textContent()) ?? "", /^\d\.\d+/);
        await widgetShot(page, "fz-viewer", "world-viewer-vehicle-absolute");
        await page.locator(tid("fz-scale")).selectOption("frame");

        await execute(1);
        const scores = await cellJson(outputText(1));
        assert.equal(scores.token, "car");
        assert.equal(scores.peaksOnVehicle, scores.frames, `the car is lit in every frame: ${JSON.stringify(scores)}`);
        assert.ok(
          (scores.heatInside as number) > 2 * (scores.heatOutside as number),
          `attention on the vehicle: ${JSON.stringify(scores)}`,
        );
        assert.ok((scores.maskIou as number) >= 0.4, `blend mask on the vehicle: ${JSON.stringify(scores)}`);

        await page.locator(tid("fz-run")).click();
        await page.waitForFunction(
          () => /edit done/.test((globalThis as any).document.querySelector('[data-testid="fz-status"]')?.textContent ?? ""),
          undefined,
          { timeout: 180_000 },
        );
        await page.waitForFunction(
          () => ((globalThis as any).document.querySelector('[data-testid="fz-row-2"]')?.naturalWidth ?? 0) > 0,
          undefined,
          { timeout: 20_000 },
        );
        assert.deepEqual(await page.locator('[data-testid^="fz-row-label-"]').allTextContents(), ["source", "reconstruction", "edit"]);
        await widgetShot(page, "fz-scrubber", "world-attribute-rows");
        await execute(2);
        const edit = await cellJson(outputText(2));
        assert.ok(
          (edit.vsReconOutside as number) >= (edit.vsReconInside as number) + 3,
          `the edit changes the vehicle more than the rest: ${JSON.stringify(edit)}`,
        );
        assert.deepEqual(ownErrors(), [], "no page errors");
      },
    );
  },
);
