// The world model: Stable Diffusion 1.x's architecture at a size that edits 8 frames of 128² in seconds on
// two cores, trained on the world (train/), committed as a diffusers folder in models/world/. Its
// architecture is stated here once; the trainer reads it from the config.json files written from this spec.
import * as path from "node:path";
import { textEncoderJson, unetJson, vaeJson } from "../models/modelSpecs";
import type { RandomModelSpec } from "../models/randomModel";
import { worldVocabFiles } from "./worldVocab";

/** The committed world model folder (relative to the package root, found from this file's place in dist/). */
export const WORLD_MODEL_DIR = path.resolve(__dirname, "..", "..", "..", "models", "world");

/** DDIM steps of an edit with the world model unless asked otherwise. */
export const WORLD_STEPS = 20;

/** How many times wider the VAE is for the gpu training plan (train/gpu.py): a GPU's compute can train a larger
 * one, and decoding stays a small share of an edit on the CPU. */
export const GPU_PLAN_VAE_WIDTH = 2;

/** The world model's architecture: CLIP 64-wide × 3 layers; UNet 32/64/128/128 with cross-attention at 16² and 8²;
 * VAE 16/32/64/64, times `vaeWidth`. */
export function worldModelSpec(vaeWidth = 1): RandomModelSpec {
  const vocab = worldVocabFiles();
  const vocabSize = Object.values(vocab.vocab).reduce((max, id) => Math.max(max, id + 1), 0);
  return {
    textEncoder: textEncoderJson({
      name: "fatezero-world",
      transformersVersion: "4.25.1",
      hidden: 64,
      layers: 3,
      heads: 4,
      mlp: 256,
      vocabSize,
    }),
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
    vae: vaeJson({ diffusersVersion: "0.11.1", blocks: [16, 32, 64, 64].map((c) => c * vaeWidth), layers: 2, groups: 16, sampleSize: 128 }),
    vocab,
    provenance: { model: "world" },
  };
}

/** A miniature of the same architecture for the trainer's smoke runs (tests and CI). */
export function miniatureWorldModelSpec(vaeWidth = 1): RandomModelSpec {
  const spec = worldModelSpec();
  const vocabSize = Object.values(spec.vocab.vocab).reduce((max, id) => Math.max(max, id + 1), 0);
  return {
    ...spec,
    textEncoder: textEncoderJson({
      name: "fatezero-world-miniature",
      transformersVersion: "4.25.1",
      hidden: 16,
      layers: 1,
      heads: 2,
      mlp: 32,
      vocabSize,
    }),
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
    vae: vaeJson({ diffusersVersion: "0.11.1", blocks: [8, 8, 8, 8].map((c) => c * vaeWidth), layers: 1, groups: 4, sampleSize: 128 }),
    provenance: { model: "world-miniature" },
  };
}
