// A rough upper estimate of a run's peak memory, so that a request far beyond the machine is refused before
// any work instead of ending in the out-of-memory killer. The editing UNet dominates: its weights, and at
// the finest level the self-attention probabilities of one head (every branch and frame, every query
// against the keys of the reference frames) and the feature maps. The factors are fitted to measured runs
// of SD 1.5's architecture (npm run bench: 256² × 4 frames 6.4 GB, 512² × 8 frames 18.3 GB) and err high.
import type { UnetShape } from "../models/unet";

/** What the estimate depends on. */
export interface MemoryRequest {
  /** Weights of the three networks as float32, bytes. */
  weightBytes: number;
  unet: Pick<UnetShape, "blockOutChannels">;
  /** Latent size [h, w]. */
  latentSize: [number, number];
  frames: number;
  /** Batch branches of an edit step (FateZero: uncond, edit, source). */
  branches: number;
  /** Frames each self-attention query reads keys from. */
  keyFrames: number;
}

const WEIGHT_FACTOR = 1.2;
const PROBABILITY_FACTOR = 3.5;
const FEATURE_FACTOR = 40;

/** Estimated peak resident bytes of inverting and editing such a clip. */
export function estimatePeakBytes(r: MemoryRequest): number {
  const queries = r.latentSize[0] * r.latentSize[1]; // per frame, finest level
  const samples = r.branches * r.frames;
  const probabilities = samples * queries * queries * Math.max(1, r.keyFrames) * 4; // one head, [B·F, L, L·k] f32
  const features = samples * queries * r.unet.blockOutChannels[0] * 4; // [B·F, C0, h, w] f32
  return WEIGHT_FACTOR * r.weightBytes + PROBABILITY_FACTOR * probabilities + FEATURE_FACTOR * features;
}
