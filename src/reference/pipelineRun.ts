// Recomputes a fixture's pipeline run (`style`, `shape`, …) the way refs.json describes it: the official
// YAML's dataset and editing config, the fixture's input frames and posterior draw, and the inflated UNet
// with the temporal biases of the variant whose model_config matches. Every edit of the run is computed
// once; individual reference tensors are then read off the results.
import { invertVideo } from "../fatezero/invertVideo";
import type { InversionRecord } from "../fatezero/inversionRecord";
import { decodeLatents } from "../fatezero/decodeLatents";
import { parseFatezeroConfig, type FatezeroConfig } from "../config/fatezeroConfig";
import type { EditSpec } from "../fatezero/editOptions";
import { editVideo } from "../fatezero/editVideo";
import { loadModel, type FateZeroModel } from "../fatezero/loadModel";
import { keepTokens } from "../fatezero/mapLayers";
import type { Fixture } from "./fixture";
import { concatArrays } from "../util/concatArrays";

type Json = Record<string, any>;

/** All tensors of one run that the project computes, by reference name. */
export type RunResults = Map<string, ArrayLike<number>>;

/**
 * The run's edits through the project's own FateZero config loader: refs.json keeps the YAML it used, and
 * each edit's p2p_config as actually run (thresholds may differ from the YAML's, README deviation 8).
 */
function runConfig(info: Json, run: string): { config: FatezeroConfig; edits: EditSpec[]; indices: number[] } {
  const cfg = structuredClone(info.fatezero_config);
  cfg.editing_config.p2p_config = Object.fromEntries((info.edits as Json[]).map((e) => [e.index, e.p2p_config]));
  const config = parseFatezeroConfig(JSON.stringify(cfg), `refs.json runs.${run}`);
  const indices = (info.edits as Json[]).map((e) => Number(e.index));
  return { config, edits: indices.map((i) => config.edits[i]), indices };
}

/** Compute every pipeline tensor of run `run`. */
export async function computeRun(fx: Fixture, run: string, cacheDir?: string, weightsFile?: string): Promise<RunResults> {
  const info = fx.get(`runs.${run}`) as Json;
  const { config, edits, indices } = runConfig(info, run);
  const model = await loadModel(fx.modelDir, { cacheDir, unetSubfolder: info.unet_subfolder ?? "unet", weightsFile });
  const injected = matchingInjection(fx, info.fatezero_config.model_config ?? {}, info.unet_subfolder ?? "unet", (n) =>
    model.folder.unet.weights.has(n),
  );
  const [F, H, W] = fx.shape(`${run}.input_frames_u8`);
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
      prompt: config.dataset.prompt,
      steps: config.loop.steps,
      selectors: config.model.selectors,
      leastScChannel: config.model.leastScChannel,
      posterior: { mode: "eps", eps: fx.readFloat32(`${run}.inversion.posterior_eps`) },
      injected,
    },
    {
      onLayerMaps: (k, layers) => {
        for (const { layer, maps } of layers) {
          layerMaps.set(
            `${run}.inversion.cross_attn.step${String(k).padStart(2, "0")}.${layer.store!.key}.${layer.store!.index}`,
            keepTokens(maps, maps.length / model.dims.tokens, columns, model.dims.tokens),
          );
        }
      },
    },
  );
  for (const [k, v] of layerMaps) out.set(k, v);
  out.set(`${run}.inversion.latents`, concatArrays(inversion.latents));
  for (let k = 0; k < edits.length; k++) await computeEdit(fx, `${run}.edit${indices[k]}`, model, inversion, edits[k], injected, out);
  const nofusion = await editVideo(model, inversion, edits[edits.length - 1], { attention: "none", injected, missingWords: "ignore" });
  out.set(`${run}.nofusion.latents_final`, nofusion.latents.data);
  return out;
}

async function computeEdit(
  fx: Fixture,
  prefix: string,
  model: FateZeroModel,
  inv: InversionRecord,
  spec: EditSpec,
  injected: Map<string, Float32Array>,
  out: RunResults,
) {
  const stepLatents: Float32Array[] = [];
  const stepMasks: Map<string, Float32Array>[] = [];
  const { latents, controller: c } = await editVideo(model, inv, spec, {
    injected,
    missingWords: "ignore",
    onStep: (_, x, masks) => {
      stepLatents.push(x.data);
      stepMasks.push(masks);
    },
  });
  out.set(`${prefix}.latents`, concatArrays(stepLatents));
  out.set(`${prefix}.latents_final`, latents.data);
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
      out.set(`${prefix}.attention_blend_mask.res${res}`, concatArrays(blended.map((m) => m.get(name)!)));
    }
  }
  if (fx.tensors.has(`${prefix}.frames_u8`)) {
    out.set(`${prefix}.frames_u8`, await decodeLatents(model, latents));
  }
}

/** The temporal biases of the fixture variant with the run's model_config and UNet folder. */
function matchingInjection(
  fx: Fixture,
  modelConfig: Json,
  unetFolder: string,
  inCheckpoint: (name: string) => boolean,
): Map<string, Float32Array> {
  const variants = (fx.get("unet.unet3d_variants") ?? {}) as Record<string, Json>;
  const match = Object.entries(variants).find(
    ([, v]) => JSON.stringify(v.model_config) === JSON.stringify(modelConfig) && (v.unet_folder ?? "unet") === unetFolder,
  );
  return match ? fx.temporalBiases(match[0], inCheckpoint) : new Map();
}
