// The editing loop (noise → clean) with classifier-free guidance and FateZero's inversion attention
// fusion inside the graph (DESIGN §2): each step runs the branches [uncond, edit, source] in one UNet call,
// the source branch replaying the inversion at the same timestep (pitfall 4); masks for self-attention
// blending come from the cached source cross-attention maps.
import * as ort from "onnxruntime-node";
import { blendMask } from "../attentionControl/blendMask";
import { controllerTensors, fusionInputs, type ControllerOptions, type ControllerTensors } from "../attentionControl/controllerTensors";
import { FUSION_INPUTS, selfMaskInput } from "../attentionControl/fusionGraph";
import type { InversionRecord } from "../inversion/inversionRecord";
import { DEFAULT_EDIT_LOOP, type EditLoopOptions, type EditSpec } from "./editOptions";
import { encodePrompts, type FateZeroModel } from "./loadModel";
import { fusedUnet, onlyInputs } from "./fusedUnet";
import { concatArrays } from "./concatArrays";
import { LatentBlend } from "../attentionControl/latentBlend";
import { combineMaskMaps, maskLayerPicks, maskMapSize } from "../inversion/mapLayers";

/** Progress, cancellation and per-step observation of an edit. */
export interface EditOptions extends Partial<EditLoopOptions> {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Latents [4, F, h, w] after step i, and the self-attention masks used at that step (by layer size). */
  onStep?: (i: number, latents: Float32Array, masks: Map<string, Float32Array>) => void;
  /** How to treat words missing from their prompt (see ControllerOptions). */
  missingWords?: ControllerOptions["missingWords"];
  /** Tensors injected into the UNet; must match the inversion's. */
  injected?: ReadonlyMap<string, Float32Array>;
}

/** The result of one edit. */
export interface EditResult {
  /** Final latents [4, F, h, w]. */
  latents: Float32Array;
  controller: ControllerTensors;
}

/** Denoise from the inversion's z_T towards `spec.prompt`. */
export async function editVideo(model: FateZeroModel, inversion: InversionRecord, spec: EditSpec, options: EditOptions = {}): Promise<EditResult> {
  const loop: EditLoopOptions = { ...DEFAULT_EDIT_LOOP, ...options };
  const key = inversion.key;
  const N = key.steps;
  const F = key.frameCount;
  const [h, w] = [key.height / 8, key.width / 8];
  const plane = 4 * F * h * w;
  const controller = controllerTensors(spec, N, model.tokenizer, { missingWords: options.missingWords });
  if (controller.attentionBlend && !inversion.maskMaps) throw new Error("blend words need the inversion's mask maps, but this model and size have no cross-attention layers within the query limit");
  const unet = await fusedUnet(model, { latentSize: [h, w], selectors: key.unet.selectors, leastScChannel: key.unet.leastScChannel, queryLimit: loop.controlQueryLimit, injected: options.injected });
  const { crossMatrix, crossBlend } = fusionInputs(controller);
  const latentBlend = controller.latentBlend && loop.attention !== "none" ? new LatentBlend(controller, inversion, spec.p2p.blendTh[0], spec.p2p.latentBlendSteps) : undefined;
  const maskPicks = maskLayerPicks(unet.mapOutputs);
  const fetches = ["noise_pred", ...(latentBlend ? maskPicks.map((l) => l.name) : [])];

  // Branches of each UNet call, and which text each one reads.
  const mode = loop.attention;
  const layout = BRANCHES[mode];
  const prompts = { uncond: "", edit: spec.prompt, source: spec.sourcePrompt, inversionPrompt: key.prompt };
  const context = await encodePrompts(model, layout.texts.map((t) => prompts[t])); // [B, 77, D]
  const B = layout.texts.length;
  const onehot = new Uint8Array(B).map((_, b) => (b === layout.edit ? 1 : 0));

  const scheduler = model.scheduler();
  scheduler.setTimesteps(N);
  let x = inversion.latents[N]; // z_T, [4, F, h, w]
  let xs = x; // the source's own trajectory (reconstruction mode)
  for (let i = 0; i < N; i++) {
    if (options.signal?.aborted) throw new Error("edit cancelled");
    const t = scheduler.timesteps[i];
    const sample = mode === "inversion" ? concatArrays([x, x, inversion.latents[N - 1 - i]]) : mode === "reconstruction" ? concatArrays([xs, x, xs, x]) : concatArrays([x, x]); // [B, 4, F, h, w]
    const controlled = mode !== "none";
    const alpha = controlled ? controller.crossReplaceAlpha.subarray(i * 77, (i + 1) * 77) : new Float32Array(77);
    const masks = selfMasks(unet.maskSizes, controlled, controller, inversion, i, spec, F);
    const feeds: Record<string, ort.Tensor> = {
      sample: new ort.Tensor("float32", sample, [B, 4, F, h, w]),
      timestep: new ort.Tensor("float32", Float32Array.of(t), [1]),
      encoder_hidden_states: new ort.Tensor("float32", context, [B, 77, context.length / B / 77]),
      [FUSION_INPUTS.srcIndex]: new ort.Tensor("int64", BigInt64Array.of(BigInt(layout.source)), [1]),
      [FUSION_INPUTS.editIndex]: new ort.Tensor("int64", BigInt64Array.of(BigInt(layout.edit)), [1]),
      [FUSION_INPUTS.editOneHot]: new ort.Tensor("bool", onehot, [B]),
      [FUSION_INPUTS.crossMatrix]: new ort.Tensor("float32", crossMatrix, [77, 77]),
      [FUSION_INPUTS.crossBlend]: new ort.Tensor("float32", crossBlend, [77]),
      [FUSION_INPUTS.crossEq]: new ort.Tensor("float32", controller.equalizer, [77]),
      [FUSION_INPUTS.crossAlpha]: new ort.Tensor("float32", alpha, [77]),
    };
    for (const [name, m] of masks) feeds[name] = new ort.Tensor("float32", m, [F, m.length / F]);
    const result = await unet.session.run(onlyInputs(unet, feeds), fetches);
    const out = result.noise_pred.data as Float32Array; // [B, 4, F, h, w]
    const branch = (b: number) => out.subarray(b * plane, (b + 1) * plane);
    x = scheduler.step(guide(branch(layout.uncond), branch(layout.edit), loop.guidanceScale), t, x);
    if (mode === "reconstruction") xs = scheduler.step(guide(branch(0), branch(layout.source), loop.guidanceScale), t, xs);
    if (latentBlend) {
      const maps = unet.mapOutputs.map((l) => (maskPicks.includes(l) ? (result[l.name].data as Float32Array) : new Float32Array(0)));
      latentBlend.accumulate(combineMaskMaps(maskPicks, unet.mapOutputs, maps, layout.edit, F, maskMapSize(maskPicks)));
      x = latentBlend.apply(i, x);
    }
    options.onStep?.(i, x, masks);
    options.onProgress?.(i + 1, N);
  }
  return { latents: x, controller };
}

/**
 * Branch layouts: inversion replays the source on the inverted latents ([uncond, edit, source]);
 * reconstruction denoises the source alongside the edit with its own guidance ([uncond src, uncond, source,
 * edit]); none has no source branch (it points at the edit, and every control is neutral).
 */
const BRANCHES = {
  inversion: { texts: ["uncond", "edit", "inversionPrompt"], uncond: 0, edit: 1, source: 2 },
  reconstruction: { texts: ["uncond", "uncond", "source", "edit"], uncond: 1, edit: 3, source: 2 },
  none: { texts: ["uncond", "edit"], uncond: 0, edit: 1, source: 1 },
} as const;

/** Self-attention masks of step i per controlled size: 1 outside the self-replace window, else the blend mask (or 0). */
function selfMasks(sizes: [number, number][], controlled: boolean, c: ControllerTensors, inv: InversionRecord, i: number, spec: EditSpec, F: number): Map<string, Float32Array> {
  const masks = new Map<string, Float32Array>();
  const N = inv.key.steps;
  const active = controlled && i >= c.selfReplace[0] && i < c.selfReplace[1];
  for (const [lh, lw] of sizes) {
    let m: Float32Array;
    if (!active) m = new Float32Array(F * lh * lw).fill(1);
    else if (c.attentionBlend) {
      const mm = inv.maskMaps!;
      const maps = { maps: mm.steps[N - 1 - i], frames: F, height: mm.height, width: mm.width, tokens: mm.tokens };
      m = blendMask(maps, c.blendAlphaLayers!.subarray(0, 77), lh, lw, spec.p2p.blendTh[0]);
    } else m = new Float32Array(F * lh * lw);
    masks.set(selfMaskInput(lh, lw), m);
  }
  return masks;
}

/** Classifier-free guidance: uncond + s·(cond − uncond). */
function guide(uncond: Float32Array, cond: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(cond.length); // [4, F, h, w]
  for (let i = 0; i < cond.length; i++) out[i] = Math.fround(uncond[i] + Math.fround(scale * Math.fround(cond[i] - uncond[i])));
  return out;
}
