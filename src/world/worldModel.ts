// The world model: Stable Diffusion 1.x's architecture at a size that edits 8 frames of 128² in seconds on
// two cores, trained on the world (train/), committed as a diffusers folder in models/world/. Its
// architecture is stated here once; the trainer reads it from the config.json files written from this spec.
import * as path from "node:path";
import { SD_LATENT_SCALE } from "../networks/configs";
import { projectTextEncoderJson, unetJson, vaeJson } from "../networks/modelSpecs";
import type { RandomModelSpec } from "../networks/randomModel";
import { worldVocabFiles } from "./worldVocab";

/** The committed world model folder (relative to the package root, found from this file's place in dist/). */
export const WORLD_MODEL_DIR = path.resolve(__dirname, "..", "..", "..", "models", "world");

/** DDIM steps of an edit with the world model unless asked otherwise. */
export const WORLD_STEPS = 20;

/**
 * The world model's guidance unless asked otherwise: against the source prompt (negative-prompt inversion), so
 * that the reconstruction retraces its inversion instead of the guided blur of the empty prompt, at a scale low
 * enough that a colour word does not repaint the whole frame (world-bench, docs/world-model.md).
 */
export const WORLD_EDIT_LOOP = { guidanceScale: 1.5, negativePrompt: "source" } as const;

/** How many times wider the VAE is for the gpu training plan (train/gpu.py): a GPU's compute can train a larger
 * one, and decoding stays a small share of an edit on the CPU. */
export const GPU_PLAN_VAE_WIDTH = 2;

/** vae/config.json of a world model's VAE: 128² frames, and the latent scale stated for the runtime and the trainer. */
function worldVaeJson(blocks: number[], layers: number, groups: number): ReturnType<typeof vaeJson> {
  return vaeJson({ diffusersVersion: "0.11.1", blocks, layers, groups, sampleSize: 128, scalingFactor: SD_LATENT_SCALE });
}

/** The world model's architecture: CLIP 64-wide × 3 layers; UNet 32/64/128/128 with cross-attention at 16² and 8²;
 * VAE 16/32/64/64, times `vaeWidth`. */
export function worldModelSpec(vaeWidth = 1): RandomModelSpec {
  const vocab = worldVocabFiles();
  return {
    textEncoder: projectTextEncoderJson("fatezero-world", vocab, { hidden: 64, layers: 3, heads: 4, mlp: 256 }),
    unet: unetJson({
      diffusersVersion: "0.11.1",
      blocks: [32, 64, 128, 128],
      crossLevels: 2,
      layers: 2,
      heads: 4,
      groups: 16,
      crossDim: 64,
      sampleSize: 16,
    }),
    vae: worldVaeJson(
      [16, 32, 64, 64].map((c) => c * vaeWidth),
      2,
      16,
    ),
    vocab,
    provenance: { model: "world" },
  };
}

/** A miniature of the same architecture for the trainer's smoke runs (tests and CI). */
export function miniatureWorldModelSpec(vaeWidth = 1): RandomModelSpec {
  const spec = worldModelSpec();
  return {
    ...spec,
    textEncoder: projectTextEncoderJson("fatezero-world-miniature", spec.vocab, { hidden: 16, layers: 1, heads: 2, mlp: 32 }),
    unet: unetJson({
      diffusersVersion: "0.11.1",
      blocks: [8, 16, 16, 16],
      crossLevels: 2,
      layers: 1,
      heads: 2,
      groups: 4,
      crossDim: 16,
      sampleSize: 16,
    }),
    vae: worldVaeJson(
      [8, 8, 8, 8].map((c) => c * vaeWidth),
      1,
      4,
    ),
    provenance: { model: "world-miniature" },
  };
}
