// A rough upper estimate of a run's peak memory, so that a request far beyond the machine is refused before
// any work instead of ending in the out-of-memory killer. The editing UNet dominates: its weights, and at
// the finest level the self-attention scores of one head (every branch and frame of one UNet window: whole
// for the controlled layers, whose fusion reads every query; in query chunks of SCORES_BLOCK for the others)
// and the feature maps. The factors are fitted to measured runs of SD 1.5's architecture (npm run bench
// edit-sd15-512-step: 7.9 GB) and err high. On top comes what the run keeps for the whole clip, which grows
// with its length however small the windows: every inversion step's latents and maps, and the frames.
import type { UnetShape } from "../models/unet";
import { SCORES_BLOCK } from "../onnx/attention";
import { CONTROL_QUERY_LIMIT } from "./editOptions";

/** What the estimate depends on. */
export interface MemoryRequest {
  /** Weights of the three networks as float32, bytes. */
  weightBytes: number;
  unet: Pick<UnetShape, "blockOutChannels" | "inChannels">;
  /** Latent size [h, w]. */
  latentSize: [number, number];
  /** Frames of one UNet evaluation (the clip, or its largest window). */
  frames: number;
  /** What is kept per frame of the whole clip. */
  clip: {
    frames: number;
    steps: number;
    /** Floats of the stored cross-attention maps per frame and step. */
    mapFloats: number;
    /** Pixels of a frame, and frames of video held per frame (the source and each decoded edit). */
    pixels: number;
    videos: number;
  };
  /** Batch branches of an edit step (FateZero: uncond, edit, source). */
  branches: number;
  /** Frames each self-attention query reads keys from. */
  keyFrames: number;
}

const WEIGHT_FACTOR = 1.2;
const SCORES_FACTOR = 3.5;
const FEATURE_FACTOR = 20;

/** Estimated peak resident bytes of inverting and editing such a clip. */
export function estimatePeakBytes(r: MemoryRequest): number {
  const queries = r.latentSize[0] * r.latentSize[1]; // per frame, finest level
  let controlled = queries; // the finest controlled level: each level has a quarter of the queries
  while (controlled > CONTROL_QUERY_LIMIT) controlled /= 4;
  const keyFrames = Math.max(1, r.keyFrames);
  const scoresPerSample = Math.max(controlled * controlled * keyFrames, Math.min(queries * queries * keyFrames, SCORES_BLOCK));
  const samples = r.branches * r.frames;
  const scores = samples * scoresPerSample * 4; // one head, f32
  const features = samples * queries * r.unet.blockOutChannels[0] * 4; // [B·F, C0, h, w] f32
  const latentFloats = r.unet.inChannels * queries;
  const kept = r.clip.frames * ((r.clip.steps + 1) * 4 * (latentFloats + r.clip.mapFloats) + r.clip.videos * r.clip.pixels * 3);
  return WEIGHT_FACTOR * r.weightBytes + SCORES_FACTOR * scores + FEATURE_FACTOR * features + kept;
}
