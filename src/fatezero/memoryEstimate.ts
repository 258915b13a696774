// A rough upper estimate of a run's peak memory, so that a request far beyond the machine is refused before
// any work instead of ending in the out-of-memory killer. The editing UNet dominates: its weights, and at
// the finest level the self-attention scores of one head (every branch and frame of one UNet window: whole
// for the controlled layers, whose fusion reads every query; in query chunks of SCORES_BLOCK for the others)
// and the feature maps. The factors are fitted to measured runs of SD 1.5's architecture (npm run bench
// edit-sd15-512-step: 7.9 GB) and err high. On top comes what the run keeps for the whole clip, which grows
// with its length however small the windows: every inversion step's latents and maps, the maps an edit step
// returns for the whole clip, the frames as decoded and as written (the grid), fitted to long clips on the
// world model (npm run bench edit-long-clip-64, edit-long-clip-64-20).
import type { UnetShape } from "../networks/unet";
import { SCORES_BLOCK } from "../onnx/attention";
import { largestControlledSelfSize, type AttentionLayer } from "./attentionSites";

/** What the estimate depends on. */
export interface MemoryRequest {
  /** Weights of the three networks as float32, bytes. */
  weightBytes: number;
  unet: Pick<UnetShape, "blockOutChannels" | "inChannels">;
  /** Latent size [h, w]. */
  latentSize: [number, number];
  /** The UNet's attention layers at that size (attentionSites). */
  layers: readonly AttentionLayer[];
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
    /** Pixels of a source frame as decoded, before it is fitted to the frame size (0 for a generated clip). */
    sourcePixels: number;
    /** Pixels of a frame of the labelled grid written beside the edit (0 when nothing is written). */
    gridPixels: number;
    /** Floats per frame of the maps one edit step returns for the whole clip (the latent blend's; 0 without it). */
    stepMapFloats: number;
  };
  /** Batch branches of an edit step (FateZero: uncond, edit, source). */
  branches: number;
  /** Frames each self-attention query reads keys from. */
  keyFrames: number;
}

/** What any run holds: Node, ONNX Runtime's and sharp's libraries and arenas (measured: 0.25 GB for the world model at 64²). */
const BASE_BYTES = 0.25 * 2 ** 30;
const WEIGHT_FACTOR = 1.2;
const SCORES_FACTOR = 3.5;
const FEATURE_FACTOR = 20;

/** Estimated peak resident bytes of inverting and editing such a clip. */
export function estimatePeakBytes(r: MemoryRequest): number {
  const queries = r.latentSize[0] * r.latentSize[1]; // per frame, finest level
  const [ch, cw] = largestControlledSelfSize(r.layers) ?? [0, 0];
  const controlled = ch * cw; // per frame, the largest controlled self-attention
  const keyFrames = Math.max(1, r.keyFrames);
  const scoresPerSample = Math.max(controlled * controlled * keyFrames, Math.min(queries * queries * keyFrames, SCORES_BLOCK));
  const samples = r.branches * r.frames;
  const scores = samples * scoresPerSample * 4; // one head, f32
  const features = samples * queries * r.unet.blockOutChannels[0] * 4; // [B·F, C0, h, w] f32
  const latentFloats = r.unet.inChannels * queries;
  const c = r.clip;
  // Each stage's share is counted, though the decoded source frames, one step's maps and the written grid never
  // coexist: a long clip's per-frame objects and the heap's slack take about what that overlap adds.
  const stored = (c.steps + 1) * 4 * (latentFloats + c.mapFloats);
  const kept = c.frames * (stored + 4 * c.stepMapFloats + (c.videos * c.pixels + c.sourcePixels + c.gridPixels) * 3);
  return BASE_BYTES + WEIGHT_FACTOR * r.weightBytes + SCORES_FACTOR * scores + FEATURE_FACTOR * features + kept;
}
