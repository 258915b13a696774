// Properties of inversion and fused editing on the embedded tiny model with real car-turn frames.
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { attentionSites, controlledSelfSizes, inversionBuild, maskLayers, storedLayers } from "../src/fatezero/attentionSites";
import { unetForInversion } from "../src/fatezero/fusedUnet";
import { invertVideo, type InversionRequest } from "../src/fatezero/invertVideo";
import type { InversionRecord } from "../src/fatezero/inversionRecord";
import { combineMaskMaps, maskMapSize } from "../src/fatezero/mapLayers";
import { CONTROL_QUERY_LIMIT, DEFAULT_EDIT_LOOP, DEFAULT_P2P, type EditLoopOptions, type EditSpec } from "../src/fatezero/editOptions";
import { selfMaskInput } from "../src/fatezero/fusionGraph";
import { editVideo } from "../src/fatezero/editVideo";
import { encodePrompts, loadModel } from "../src/fatezero/loadModel";
import { readVideo, type VideoClip } from "../src/video/readVideo";
import { SHARED, tempDir } from "./sharedData";

const cacheDir = tempDir("props-cache");
const SOURCE = "a silver jeep driving down a curvy road in the countryside";
const STEPS = 6;

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const request = (clip: VideoClip): InversionRequest => ({
  frames: clip.frames,
  frameCount: clip.count,
  height: 256,
  width: 256,
  prompt: SOURCE,
  steps: STEPS,
});

const setup = (async () => {
  const model = await loadModel("tiny", { cacheDir });
  const clip = await readVideo(path.join(SHARED, "data/car-turn"), { size: 256, nSampleFrame: 3 });
  const inversion = await invertVideo(model, request(clip));
  return { model, clip, inversion };
})();

let fixedPointRun: Promise<InversionRecord> | undefined;
/** The same clip inverted with two fixed-point iterations a step, made once by the first test that needs it. */
const fixedPoint = () =>
  (fixedPointRun ??= setup.then(({ model, clip }) => invertVideo(model, { ...request(clip), inversionIterations: 2 })));

const spec = (prompt: string, p2p: Partial<EditSpec["p2p"]>): EditSpec => ({
  prompt,
  sourcePrompt: SOURCE,
  p2p: { ...DEFAULT_P2P, ...p2p },
});

test("inversion then DDIM reconstruction with the source prompt (no guidance) returns z0", async () => {
  const { model, inversion } = await setup;
  const rec = await editVideo(model, inversion, spec(SOURCE, {}), { attention: "none", guidanceScale: 1 });
  const err = relErr(rec.latents.data, inversion.latents[0]);
  assert.ok(err < 0.08, `relative L2 error ${err}`); // measured on the tiny model: see the README
  const far = relErr(inversion.latents[STEPS], inversion.latents[0]);
  assert.ok(far > 0.5, `z_T is far from z0 (${far})`);
});

test("fixed-point iterations bring the DDIM reconstruction (no guidance) nearer z0 than plain inversion", async () => {
  const { model, inversion } = await setup;
  const refined = await fixedPoint();
  assert.equal(refined.key.inversionIterations, 2, "the iterations are part of the cache key");
  const reconstruct = async (inv: InversionRecord) =>
    relErr((await editVideo(model, inv, spec(SOURCE, {}), { attention: "none", guidanceScale: 1 })).latents.data, inv.latents[0]);
  const [plainErr, refinedErr] = [await reconstruct(inversion), await reconstruct(refined)];
  assert.ok(refinedErr < plainErr / 4, `relative L2 error: plain ${plainErr}, fixed-point ${refinedErr}`);
});

test("inversionIterations 0 is FateZero's plain DDIM inversion, bit for bit and under the same cache key", async () => {
  const { model, clip, inversion } = await setup;
  const zero = await invertVideo(model, { ...request(clip), inversionIterations: 0 });
  assert.deepEqual(zero.key, inversion.key);
  assert.equal(zero.key.inversionIterations, undefined);
  zero.latents.forEach((z, k) => assert.equal(maxDiff(z, inversion.latents[k]), 0, `z_${k}`));
  zero.maskMaps!.steps.forEach((m, k) => assert.equal(maxDiff(m, inversion.maskMaps!.steps[k]), 0, `mask maps of step ${k}`));
});

test("a fixed-point inversion's maps are those of its stored latents, which the edit's source branch replays", async () => {
  const { model } = await setup;
  const refined = await fixedPoint();
  const [C, F, h, w] = refined.latentShape;
  const unet = await unetForInversion(model, refined.key);
  const scheduler = model.scheduler();
  scheduler.setTimesteps(STEPS);
  const context = await encodePrompts(model, [SOURCE]); // [1, T, D]
  const T = model.dims.tokens;
  const picks = maskLayers(unet.layers);
  for (const k of [1, STEPS - 1]) {
    // Editing step N−1−k replays the source branch on z_k at the k-th inversion timestep.
    const out = await unet.predict({
      sample: refined.latents[k],
      dims: [1, C, F, h, w],
      timestep: scheduler.inversionTimesteps()[k],
      context,
      maps: storedLayers(unet.layers),
    });
    const replayed = combineMaskMaps(picks, out.maps, 0, F, maskMapSize(picks), T);
    assert.ok(maxDiff(replayed, refined.maskMaps!.steps[k]) < 1e-6, `step ${k}: ${maxDiff(replayed, refined.maskMaps!.steps[k])}`);
  }
});

test("editing with p_edit = p_src and full replacement reproduces the reconstruction", async () => {
  const { model, inversion } = await setup;
  const plain = await editVideo(model, inversion, spec(SOURCE, {}), { attention: "none" });
  const fused = await editVideo(model, inversion, spec(SOURCE, { crossReplaceSteps: 1, selfReplaceSteps: 1 }), {
    attention: "reconstruction",
  });
  assert.ok(maxDiff(fused.latents.data, plain.latents.data) < 1e-4, `max diff ${maxDiff(fused.latents.data, plain.latents.data)}`);
});

test("blend threshold 0 keeps the edit's self-attention everywhere, above 1 the source's", async () => {
  const { model, inversion } = await setup;
  const target = "a silver car driving down a curvy road in the countryside";
  const blend = {
    blendWords: [["jeep"], ["car"]] as [string[], string[]],
    blendSelfAttention: true,
    crossReplaceSteps: 0.5,
    selfReplaceSteps: 0.8,
  };
  const masks: number[] = [];
  const allEdit = await editVideo(model, inversion, spec(target, { ...blend, blendTh: [0, 0] }), {
    onStep: (_, __, m) => m.forEach((v) => masks.push(...v)),
  });
  assert.ok(masks.every((v) => v === 1));
  const noSelfFusion = await editVideo(model, inversion, spec(target, { ...blend, selfReplaceSteps: 0 }));
  assert.ok(maxDiff(allEdit.latents.data, noSelfFusion.latents.data) < 1e-5);
  const allSource = await editVideo(model, inversion, spec(target, { ...blend, blendTh: [1.5, 1.5] }));
  const fullReplace = await editVideo(model, inversion, spec(target, { ...blend, blendWords: undefined }));
  assert.ok(maxDiff(allSource.latents.data, fullReplace.latents.data) < 1e-5);
  assert.ok(maxDiff(allEdit.latents.data, allSource.latents.data) > 1e-3, "the mask matters");
  const mid = await editVideo(model, inversion, spec(target, { ...blend, blendTh: [0.5, 0.5] }));
  assert.ok(
    maxDiff(mid.latents.data, allEdit.latents.data) > 1e-4 && maxDiff(mid.latents.data, allSource.latents.data) > 1e-4,
    "a middle threshold blends",
  );
});

test("a blend word that is not in its prompt is a clear error", async () => {
  const { model, inversion } = await setup;
  await assert.rejects(
    editVideo(model, inversion, spec("a red car on a road", { blendWords: [["tractor"], ["car"]], blendSelfAttention: true })),
    /tractor.*a silver jeep driving/s,
  );
});

test("a prompt over 77 tokens is truncated as CLIP does, with a warning", async () => {
  const { model } = await setup;
  const warnings: string[] = [];
  const long = Array.from({ length: 90 }, () => "jeep").join(" ");
  const [full, cut] = [
    await encodePrompts(model, [long], (m) => warnings.push(m)),
    await encodePrompts(model, [Array.from({ length: 75 }, () => "jeep").join(" ")]),
  ];
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /truncated to 77 tokens/);
  assert.ok(maxDiff(full, cut) === 0, "the first 75 tokens (plus start and end) are what is encoded");
});

test("latent blending: threshold 0 leaves the edit unchanged, above 1 restores the inverted latents inside the window", async () => {
  const { model, inversion } = await setup;
  const target = "a silver car driving down a curvy road in the countryside";
  const blend = { blendWords: [["jeep"], ["car"]] as [string[], string[]], crossReplaceSteps: 0.5, selfReplaceSteps: 0.5 };
  const plain = await editVideo(model, inversion, spec(target, blend));
  const all = await editVideo(model, inversion, spec(target, { ...blend, blendLatents: true, blendTh: [0, 0] }));
  assert.ok(maxDiff(all.latents.data, plain.latents.data) < 1e-5, "an all-ones mask keeps the edit");
  const steps: Float32Array[] = [];
  await editVideo(model, inversion, spec(target, { ...blend, blendLatents: true, blendTh: [1.5, 1.5] }), {
    onStep: (_, x) => steps.push(x.data),
  });
  // Window (0.2·N, 0.8·N) on the step counter i+1: with N = 6, steps i = 1 and 2 are blended.
  assert.ok(maxDiff(steps[1], inversion.latents[STEPS - 1]) === 0, "step 1 is replaced by z_{N-1}");
  assert.ok(maxDiff(steps[0], inversion.latents[STEPS]) > 1e-3, "step 0 is outside the window");
});

test("latent blending: latentBlendSteps moves the window", async () => {
  const { model, inversion } = await setup;
  const target = "a silver car driving down a curvy road in the countryside";
  const p2p = {
    blendWords: [["jeep"], ["car"]] as [string[], string[]],
    crossReplaceSteps: 0.5,
    selfReplaceSteps: 0.5,
    blendLatents: true,
    blendTh: [1.5, 1.5] as [number, number],
  };
  const steps: Float32Array[] = [];
  // Window (0, 0.5·N) on the counter i+1: with N = 6, steps i = 0 and 1 are blended, step 2 is not.
  await editVideo(model, inversion, spec(target, { ...p2p, latentBlendSteps: [0, 0.5] }), { onStep: (_, x) => steps.push(x.data) });
  assert.ok(maxDiff(steps[0], inversion.latents[STEPS]) === 0, "step 0 is replaced by z_N");
  assert.ok(maxDiff(steps[2], inversion.latents[STEPS - 2]) > 1e-3, "step 2 is outside the window");
});

test("an edit controls the layers its inversion stored maps of: the key's query limit, not the loop options'", async () => {
  const { model, clip } = await setup;
  const inv = await invertVideo(model, { ...request(clip), queryLimit: 16 * 16 });
  const maskInputs = (queryLimit: number) =>
    controlledSelfSizes(attentionSites(model.unetConfig, { ...inversionBuild(inv.key, model.dims.vaeFactor), queryLimit })).map(([h, w]) =>
      selfMaskInput(h, w),
    );
  const own = maskInputs(inv.key.queryLimit);
  assert.notDeepEqual(own, maskInputs(CONTROL_QUERY_LIMIT), "at 32² latents the two limits control different layers");
  // A plan's loop options carry FateZero's limit; the edit still takes the inversion's (mask maps, masks, latent blend).
  const loop: EditLoopOptions = { ...DEFAULT_EDIT_LOOP };
  const target = "a silver car driving down a curvy road in the countryside";
  const p2p = {
    blendWords: [["jeep"], ["car"]] as [string[], string[]],
    blendSelfAttention: true,
    blendLatents: true,
    selfReplaceSteps: 1,
  };
  const masks: string[][] = [];
  await editVideo(model, inv, spec(target, p2p), { ...loop, onStep: (_, __, m) => masks.push([...m.keys()]) });
  assert.equal(masks.length, STEPS);
  for (const m of masks) assert.deepEqual(m, own);
});

test("an edit with other injected tensors than its inversion's is refused", async () => {
  const { model, inversion } = await setup;
  const injected = new Map([["down_blocks.0.attentions.0.transformer_blocks.0.attn_temporal.to_out.0.bias", new Float32Array(32)]]);
  await assert.rejects(editVideo(model, inversion, spec(SOURCE, {}), { injected }), /made without injected tensors/);
});
