// The editing loop (noise → clean) with classifier-free guidance and FateZero's inversion attention fusion
// inside the graph: each step runs the branches [uncond, edit, source] in one UNet call, the source branch
// replaying the inversion on its latent of the same timestep (editing step i at t_i reads z_{N−1−i}, which
// inversion step N−1−i produced at t_i); masks for self-attention blending come from the cached source
// cross-attention maps. The UNet is the inversion's (unetForInversion): its query limit, like FateZero's
// hard-coded 32², is the one the inversion stored its maps with, so the edit controls exactly those layers.
import { maskLayers } from "./attentionSites";
import { blendMask } from "./blendMask";
import { controllerTensors, fusionInputs, type ControllerOptions, type ControllerTensors } from "./controllerTensors";
import { blendMaskThreshold, DEFAULT_EDIT_LOOP, type EditLoopOptions, type EditSpec } from "./editOptions";
import { unetForInversion } from "./fusedUnet";
import { selfMaskInput, type UnetControls } from "./fusionGraph";
import type { InversionRecord, LatentVideo } from "./inversionRecord";
import { LatentBlend } from "./latentBlend";
import { encodePrompts, type FateZeroModel } from "./loadModel";
import { combineMaskMaps, maskMapSize } from "./mapLayers";
import { concatArrays } from "../util/concatArrays";

/**
 * Loop options, progress, cancellation and per-step observation of an edit. The control query limit is not
 * among them: it is the inversion's (its key's `queryLimit`), as FateZero's one constant serves both.
 */
export interface EditOptions extends Partial<Omit<EditLoopOptions, "controlQueryLimit">> {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Latents after step i, and the self-attention masks used at that step (by mask input name). */
  onStep?: (i: number, latents: LatentVideo, masks: Map<string, Float32Array>) => void;
  /** How to treat words missing from their prompt (see ControllerOptions). */
  missingWords?: ControllerOptions["missingWords"];
  /** Tensors injected into the UNet; must match the inversion's. */
  injected?: ReadonlyMap<string, Float32Array>;
}

/** The result of one edit. */
export interface EditResult {
  /** Final latents. */
  latents: LatentVideo;
  controller: ControllerTensors;
}

/** Denoise from the inversion's z_T towards `spec.prompt`. */
export async function editVideo(
  model: FateZeroModel,
  inversion: InversionRecord,
  spec: EditSpec,
  options: EditOptions = {},
): Promise<EditResult> {
  const loop = editLoopOptions(model, options);
  const key = inversion.key;
  const N = key.steps;
  const shape = inversion.latentShape;
  const [C, F, h, w] = shape;
  const plane = C * F * h * w;
  const T = model.dims.tokens;

  // 1. The controller: prompt-to-prompt's token mapping, equalizer, per-step schedules and blend words.
  const controller = controllerTensors(spec, N, model.tokenizer, { missingWords: options.missingWords });
  if (controller.attentionBlend && !inversion.maskMaps)
    throw new Error(
      "blend words need the inversion's mask maps, but this model and size have no cross-attention layers within the query limit",
    );
  const { crossMatrix, crossBlend } = fusionInputs(controller);

  // 2. The UNet the inversion was made with, and the latent blend over its mask layers' maps.
  const unet = await unetForInversion(model, key, options.injected);
  const latentBlend =
    controller.latentBlend && loop.attention !== "none"
      ? new LatentBlend(controller, inversion, blendMaskThreshold(spec.p2p), spec.p2p.latentBlendSteps)
      : undefined;
  const maskPicks = maskLayers(unet.layers);

  // 3. Branches of each UNet call, and which text each one reads.
  const mode = loop.attention;
  const layout = BRANCHES[mode];
  const negative = loop.negativePrompt === "source" ? key.prompt : "";
  const prompts = { uncond: negative, edit: spec.prompt, source: spec.sourcePrompt, inversionPrompt: key.prompt };
  const context = await encodePrompts(
    model,
    layout.texts.map((t) => prompts[t]),
  ); // [B, T, D]
  const B = layout.texts.length;
  const controlled = mode !== "none";

  // 4. DDIM denoising from z_T with classifier-free guidance, the edit branch fused with the source branch.
  const scheduler = model.scheduler();
  scheduler.setTimesteps(N);
  let x = inversion.latents[N]; // z_T, [C, F, h, w]
  let xs = x; // the source's own trajectory (reconstruction mode)
  for (let i = 0; i < N; i++) {
    if (options.signal?.aborted) throw new Error("edit cancelled");
    const t = scheduler.timesteps[i];
    const sample =
      mode === "inversion"
        ? concatArrays([x, x, inversion.latents[N - 1 - i]])
        : mode === "reconstruction"
          ? concatArrays([xs, x, xs, x])
          : concatArrays([x, x]); // [B, C, F, h, w]
    const selfMasks = stepMasks(unet.maskSizes, controlled, controller, inversion, i, spec);
    const controls: UnetControls = {
      branches: B,
      editBranch: layout.edit,
      sourceBranch: layout.source,
      crossMatrix,
      crossBlend,
      crossEq: controller.equalizer,
      crossAlpha: controlled ? controller.crossReplaceAlpha.subarray(i * T, (i + 1) * T) : new Float32Array(T),
      selfMasks,
    };
    const out = await unet.predict({
      sample,
      dims: [B, C, F, h, w],
      timestep: t,
      context,
      controls,
      maps: latentBlend ? maskPicks : [],
      frameChunk: key.frameChunk,
    });
    const branch = (b: number) => out.noise.subarray(b * plane, (b + 1) * plane);
    x = scheduler.step(guide(branch(layout.uncond), branch(layout.edit), loop.guidanceScale), t, x);
    if (mode === "reconstruction") xs = scheduler.step(guide(branch(0), branch(layout.source), loop.guidanceScale), t, xs);
    if (latentBlend) {
      latentBlend.accumulate(combineMaskMaps(maskPicks, out.maps, layout.edit, F, maskMapSize(maskPicks), T));
      x = latentBlend.apply(i, x);
    }
    options.onStep?.(i, { data: x, shape }, selfMasks);
    options.onProgress?.(i + 1, N);
  }
  return { latents: { data: x, shape }, controller };
}

/** The loop options an edit runs with: FateZero's defaults, then the model's (modelEditDefaults), then the caller's. */
export function editLoopOptions(model: FateZeroModel, options: Partial<EditLoopOptions> = {}): EditLoopOptions {
  return { ...DEFAULT_EDIT_LOOP, ...model.editDefaults, ...options };
}

/**
 * Branch layouts: inversion replays the source on the inverted latents ([uncond, edit, source]);
 * reconstruction denoises the source alongside the edit with its own guidance ([uncond src, uncond, source,
 * edit]); none has no source branch (it points at the edit, and every control is neutral).
 */
export const BRANCHES = {
  inversion: { texts: ["uncond", "edit", "inversionPrompt"], uncond: 0, edit: 1, source: 2 },
  reconstruction: { texts: ["uncond", "uncond", "source", "edit"], uncond: 1, edit: 3, source: 2 },
  none: { texts: ["uncond", "edit"], uncond: 0, edit: 1, source: 1 },
} as const;

/** Self-attention masks of step i per controlled size: 1 outside the self-replace window, else the blend mask (or 0). */
function stepMasks(
  sizes: [number, number][],
  controlled: boolean,
  c: ControllerTensors,
  inv: InversionRecord,
  i: number,
  spec: EditSpec,
): Map<string, Float32Array> {
  const masks = new Map<string, Float32Array>();
  const N = inv.key.steps;
  const F = inv.key.frameCount;
  const active = controlled && i >= c.selfReplace[0] && i < c.selfReplace[1];
  for (const [lh, lw] of sizes) {
    let m: Float32Array;
    if (!active) m = new Float32Array(F * lh * lw).fill(1);
    else if (c.attentionBlend) {
      const mm = inv.maskMaps!;
      const maps = { maps: mm.steps[N - 1 - i], frames: F, height: mm.height, width: mm.width, tokens: mm.tokens };
      m = blendMask(maps, c.blendAlphaLayers!.subarray(0, mm.tokens), lh, lw, blendMaskThreshold(spec.p2p));
    } else m = new Float32Array(F * lh * lw);
    masks.set(selfMaskInput(lh, lw), m);
  }
  return masks;
}

/** Classifier-free guidance: uncond + s·(cond − uncond). */
function guide(uncond: Float32Array, cond: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(cond.length); // [C, F, h, w]
  for (let i = 0; i < cond.length; i++) out[i] = Math.fround(uncond[i] + Math.fround(scale * Math.fround(cond[i] - uncond[i])));
  return out;
}
