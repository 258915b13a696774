// Recomputes a fixture's pipeline run (`style`, `shape`, …) the way refs.json describes it: the official
// YAML's dataset and editing config, the fixture's input frames and posterior draw, and the inflated UNet
// with the temporal biases of the variant whose model_config matches. Every edit of the run is computed
// once; individual reference tensors are then read off the results.
import { parseSelectors } from "../models/frameLayout";
import { invertVideo } from "../inversion/invertVideo";
import type { InversionRecord } from "../inversion/inversionRecord";
import { decodeVideo } from "../pipeline/decodeVideo";
import { DEFAULT_P2P, type EditSpec } from "../pipeline/editOptions";
import { editVideo } from "../pipeline/editVideo";
import { loadModel, type FateZeroModel } from "../pipeline/loadModel";
import type { Fixture } from "./fixture";

type Json = Record<string, any>;

/** All tensors of one run that the project computes, by reference name. */
export type RunResults = Map<string, ArrayLike<number>>;

/** The p2p_config of a refs.json edit as typed options (FateZero's defaults where a key is absent). */
export function editSpecOf(e: Json): EditSpec {
  const p = e.p2p_config ?? {};
  return {
    prompt: e.prompt,
    sourcePrompt: e.source_prompt,
    p2p: {
      ...DEFAULT_P2P,
      isReplaceController: p.is_replace_controller ?? true,
      crossReplaceSteps: p.cross_replace_steps?.default_ !== undefined && Object.keys(p.cross_replace_steps).length === 1 ? p.cross_replace_steps.default_ : p.cross_replace_steps,
      selfReplaceSteps: p.self_replace_steps,
      blendWords: p.blend_words ?? undefined,
      blendTh: p.blend_th ?? [0.3, 0.3],
      blendSelfAttention: !!p.blend_self_attention,
      blendLatents: !!p.blend_latents,
      eqParams: p.eq_params ?? undefined,
    },
  };
}

/** Compute every pipeline tensor of run `run`. */
export async function computeRun(fx: Fixture, run: string, cacheDir?: string): Promise<RunResults> {
  const info = fx.get(`runs.${run}`) as Json;
  const cfg = info.fatezero_config as Json;
  const model = await loadModel(fx.modelDir, { cacheDir, unetSubfolder: info.unet_subfolder ?? "unet" });
  const mc = cfg.model_config ?? {};
  const injected = matchingInjection(fx, mc, info.unet_subfolder ?? "unet", (n) => model.folder.unet.weights.has(n));
  const [F, H, W] = fx.shape(`${run}.input_frames_u8`);
  const steps = Number(cfg.editing_config.num_inference_steps);
  const out: RunResults = new Map();
  const layerMaps = new Map<string, Float32Array>();
  const columns = Number(info.stored_maps_token_columns_exported ?? 16);
  const inversion = await invertVideo(
    model,
    {
      frames: Uint8Array.from(fx.read(`${run}.input_frames_u8`)),
      frameCount: F,
      height: H,
      width: W,
      prompt: cfg.dataset_config.prompt,
      steps,
      selectors: parseSelectors(mc.SparseCausalAttention_index ?? [-1, "first"]),
      leastScChannel: Number(mc.least_sc_channel ?? 0),
      posterior: { mode: "eps", eps: fx.readFloat32(`${run}.inversion.posterior_eps`) },
      injected,
    },
    {
      onLayerMaps: (k, layers) => {
        const counters = new Map<string, number>();
        for (const { site, maps } of layers) {
          const list = `${site.place}_cross`;
          const j = counters.get(list) ?? 0;
          counters.set(list, j + 1);
          layerMaps.set(`${run}.inversion.cross_attn.step${String(k).padStart(2, "0")}.${list}.${j}`, firstColumns(maps, columns));
        }
      },
    },
  );
  for (const [k, v] of layerMaps) out.set(k, v);
  out.set(`${run}.inversion.latents`, concat(inversion.latents));
  for (const e of info.edits as Json[]) await computeEdit(fx, run, model, inversion, e, injected, out);
  const last = (info.edits as Json[]).at(-1)!;
  const nofusion = await editVideo(model, inversion, editSpecOf(last), { attention: "none", injected, missingWords: "ignore" });
  out.set(`${run}.nofusion.latents_final`, nofusion.latents);
  return out;
}

async function computeEdit(fx: Fixture, run: string, model: FateZeroModel, inv: InversionRecord, e: Json, injected: Map<string, Float32Array>, out: RunResults) {
  const prefix = `${run}.edit${e.index}`;
  const stepLatents: Float32Array[] = [];
  const stepMasks: Map<string, Float32Array>[] = [];
  const { latents, controller: c } = await editVideo(model, inv, editSpecOf(e), {
    injected,
    missingWords: "ignore",
    onStep: (_, x, masks) => {
      stepLatents.push(x);
      stepMasks.push(masks);
    },
  });
  out.set(`${prefix}.latents`, concat(stepLatents));
  out.set(`${prefix}.latents_final`, latents);
  out.set(`${prefix}.controller.cross_replace_alpha`, c.crossReplaceAlpha);
  out.set(`${prefix}.controller.equalizer`, c.equalizer);
  if (c.refineMapper) out.set(`${prefix}.controller.refine_mapper`, c.refineMapper);
  if (c.refineAlphas) out.set(`${prefix}.controller.refine_alphas`, c.refineAlphas);
  if (c.replaceMapper) out.set(`${prefix}.controller.replace_mapper`, c.replaceMapper);
  if (c.blendAlphaLayers) out.set(`${prefix}.controller.blend_alpha_layers`, c.blendAlphaLayers);
  if (c.attentionBlend) {
    const blended = stepMasks.slice(c.selfReplace[0], c.selfReplace[1]);
    for (const name of blended[0]?.keys() ?? []) {
      const res = /^self_mask_(\d+)x\d+$/.exec(name)![1];
      out.set(`${prefix}.attention_blend_mask.res${res}`, concat(blended.map((m) => m.get(name)!)));
    }
  }
  if (fx.tensors.has(`${prefix}.frames_u8`)) {
    const [F, h, w] = [inv.key.frameCount, inv.key.height / 8, inv.key.width / 8];
    out.set(`${prefix}.frames_u8`, await decodeVideo(model, latents, F, h, w));
  }
}

/** The temporal biases of the fixture variant with the run's model_config and UNet folder. */
function matchingInjection(fx: Fixture, modelConfig: Json, unetFolder: string, inCheckpoint: (name: string) => boolean): Map<string, Float32Array> {
  const variants = (fx.get("unet.unet3d_variants") ?? {}) as Record<string, Json>;
  const match = Object.entries(variants).find(
    ([, v]) => JSON.stringify(v.model_config) === JSON.stringify(modelConfig) && (v.unet_folder ?? "unet") === unetFolder,
  );
  return match ? fx.temporalBiases(match[0], inCheckpoint) : new Map();
}

function firstColumns(maps: Float32Array, columns: number): Float32Array {
  const rows = maps.length / 77;
  const out = new Float32Array(rows * columns); // [F·L, columns]
  for (let r = 0; r < rows; r++) out.set(maps.subarray(r * 77, r * 77 + columns), r * columns);
  return out;
}

function concat(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
