// What a DDIM inversion leaves behind for editing and for the notebook viewers: the latents of every
// step and small head-averaged source cross-attention maps. Maps are never stored per head or per layer
// at full size (for SD at 512² that would be ~100 GB); the edit replays the source branch instead.
import type { UnetPrecision } from "./editOptions";

/** The shape of a latent video: [channels, frames, height, width] (the video UNet's layout without the batch axis). */
export type LatentShape = [number, number, number, number];

/** A latent video: its values [C, F, h, w] and their shape. */
export interface LatentVideo {
  data: Float32Array;
  shape: LatentShape;
}

/** Everything that determines an inversion's result; two requests with equal keys share a cache entry. */
export interface InversionKey {
  /** Identity of the model: hash of the configs and weight files (see `modelIdentity`). */
  model: string;
  /** sha256 of the input frames u8 [F, H, W, 3]. */
  frames: string;
  frameCount: number;
  height: number;
  width: number;
  /** The inversion (dataset) prompt. */
  prompt: string;
  steps: number;
  /** UNet inflation: sparse-causal frame selectors, least_sc_channel, unet subfolder. */
  unet: { selectors: (number | string)[]; leastScChannel: number; subfolder: string };
  /** How z0 was drawn from the posterior: its mean, a seeded sample, or a given eps (by hash). */
  posterior: { mode: "mean" } | { mode: "sample"; seed: number } | { mode: "eps"; hash: string };
  /** Largest per-frame query length of the stored cross-attention layers (FateZero: 32²). */
  queryLimit: number;
  /** Hash of tensors injected into the UNet (FateZero's random temporal biases), when any. */
  injected?: string;
  /** Frames per UNet window, when the clip is longer (the windows' GroupNorm statistics make it a different result). */
  frameChunk?: number;
  /** Fixed-point iterations per inversion step, when any (absent: FateZero's plain DDIM inversion). */
  inversionIterations?: number;
  /** The UNet's precision when not float32 (absent: "fp32"); its edits open the same UNet. */
  unetPrecision?: Exclude<UnetPrecision, "fp32">;
}

/** A group of cross-attention layers averaged together: one place and resolution level. */
export interface MapGroup {
  place: "down" | "mid" | "up";
  level: number;
  /** Latent-space size of the layer: queries = height · width. */
  height: number;
  width: number;
  /** Number of layers and total heads averaged into the group's maps. */
  layers: number;
  heads: number;
}

/** The result of one inversion. */
export interface InversionRecord {
  key: InversionKey;
  /** Latents z_0 … z_N, each [C, F, h, w]. */
  latents: Float32Array[];
  /** The shape of every latent. */
  latentShape: LatentShape;
  /** Token columns stored per map: positions 0 … tokens−1 (SOT … EOT of the prompt). */
  tokens: number;
  /** Per inversion step, the cross-attention maps averaged over all heads of FateZero's five mask layers
   * (down_cross[2:4] + up_cross[:3] among stored layers): [F, h·w, tokens]. Absent when those layers
   * do not exist (see attentionSites.ts). They keep every token column: blend words index the editing
   * source prompt, whose positions can lie beyond the inversion prompt's end. */
  maskMaps?: { height: number; width: number; heads: number; tokens: number; steps: Float32Array[] };
  /** Per group, per inversion step, head- and layer-averaged maps [F, h·w, tokens] for the viewer. */
  groups: { group: MapGroup; steps: Float32Array[] }[];
}

/** Latent z_k of an inversion (k = 0: the clean latent, k = steps: the inverted noise). */
export function inversionLatent(inversion: InversionRecord, k: number): LatentVideo {
  return { data: inversion.latents[k], shape: inversion.latentShape };
}
