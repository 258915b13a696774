// Video tensors inside the inflated UNet keep frames folded into the batch axis ([(B·F), C, H, W], as
// FateZero's rearranges do), so every per-image layer works unchanged. The few layers that mix frames
// (sparse-causal attention, temporal attention, temporal convolution) unfold them here. The frame count F
// is read from the input's shape and the sparse-causal key frames from an input, so one graph serves any
// clip length, and any window of a long clip with the clip's own key frames.
import * as ort from "onnxruntime-node";
import { DType, type Graph } from "../onnx/graph";

/** Entries of FateZero's `SparseCausalAttention_index`: frame selectors for keys and values. */
export type FrameSelector = number | "first" | "last" | "mid" | "middle";

/** Shape values of the video currently being processed. */
export interface FrameContext {
  /** Number of frames, int64 [1]. */
  frames: string;
  /** Frame index vectors (int64 [F]) for each selector in use, by selector. */
  selectors: Map<string, string>;
}

/** Parse and validate a `SparseCausalAttention_index` list. */
export function parseSelectors(list: unknown): FrameSelector[] {
  if (!Array.isArray(list)) throw new Error(`SparseCausalAttention_index must be a list, got ${JSON.stringify(list)}`);
  return list.map((s) => {
    if (Number.isInteger(s) || s === "first" || s === "last" || s === "mid" || s === "middle") return s as FrameSelector;
    throw new Error(`SparseCausalAttention_index: ${JSON.stringify(s)} is not an int or one of "first", "last", "mid"`);
  });
}

/** The video UNet's input naming, per selector in use and frame, the frame its keys come from: int64 [K, F]. */
export const KEY_FRAMES_INPUT = "key_frames";

/** The distinct selectors in first-use order: the rows of the key-frames input. */
export function distinctSelectors(selectors: readonly FrameSelector[]): FrameSelector[] {
  const seen = new Set<string>();
  return selectors.filter((s) => !seen.has(String(s)) && seen.add(String(s)));
}

/** FateZero's selector on a clip of `total` frames: int k → clamp(i + k, 0, F−1); 'first' → 0; 'last' → F−1; 'mid' → ⌊(F−1)/2⌋. */
export function selectFrame(s: FrameSelector, i: number, total: number): number {
  if (typeof s === "number") return Math.min(Math.max(i + s, 0), total - 1);
  if (s === "first") return 0;
  if (s === "last") return total - 1;
  return (total - 1) >> 1;
}

/**
 * The key-frames input for `frames` (clip frame numbers, ascending) of a clip of `total` frames: row k, entry j
 * is the position in `frames` of the frame selector k picks for frame frames[j]; a pick outside `frames` falls
 * back to the frame itself (only context frames of a window, whose outputs are dropped, lack their picks).
 */
export function keyFrameIndices(selectors: readonly FrameSelector[], frames: readonly number[], total: number): BigInt64Array {
  const rows = distinctSelectors(selectors);
  const position = new Map(frames.map((f, j) => [f, j]));
  const out = new BigInt64Array(rows.length * frames.length); // [K, W]
  rows.forEach((s, k) => frames.forEach((f, j) => (out[k * frames.length + j] = BigInt(position.get(selectFrame(s, f, total)) ?? j))));
  return out;
}

/** The key-frames feed of a whole clip of `total` frames (or of a window of it: `frames`). */
export function keyFramesFeed(selectors: readonly FrameSelector[], total: number, frames?: readonly number[]): ort.Tensor {
  const window = frames ?? Array.from({ length: total }, (_, i) => i);
  return new ort.Tensor("int64", keyFrameIndices(selectors, window, total), [distinctSelectors(selectors).length, window.length]);
}

/** Index vectors for the selectors, read from the key-frames input (so that a window of a long clip keeps the clip's picks). */
export function frameContext(g: Graph, frames: string, selectors: FrameSelector[]): FrameContext {
  const map = new Map<string, string>();
  const rows = distinctSelectors(selectors);
  if (rows.length === 0) return { frames, selectors: map };
  const input = g.input(KEY_FRAMES_INPUT, DType.int64, [rows.length, "frames"]);
  rows.forEach((s, k) => map.set(String(s), g.op("Gather", [input, g.constInt64([k], [])], { axis: 0 }))); // [F]
  return { frames, selectors: map };
}

/** [(B·F), L, C] → the same with keys gathered from the selected frames: [(B·F), K·L, C]. */
export function gatherFrames(g: Graph, x: string, ctx: FrameContext, selectors: FrameSelector[], channels: number): string {
  const shape = g.op("Shape", [x]);
  const L = g.op("Slice", [shape, g.constInt64([1]), g.constInt64([2])]);
  // [B, F, L, C]
  const unfolded = g.op("Reshape", [x, g.op("Concat", [g.constInt64([-1]), ctx.frames, L, g.constInt64([channels])], { axis: 0 })]);
  const parts = selectors.map((s) => g.op("Gather", [unfolded, ctx.selectors.get(String(s))!], { axis: 1 })); // K × [B, F, L, C]
  const joined = parts.length === 1 ? parts[0] : g.op("Concat", parts, { axis: 2 }); // [B, F, K·L, C]
  const batch = g.op("Slice", [shape, g.constInt64([0]), g.constInt64([1])]);
  return g.op("Reshape", [joined, g.op("Concat", [batch, g.constInt64([-1, channels])], { axis: 0 })]);
}

/** [(B·F), L, C] → [(B·L), F, C]: one sequence over frames per spatial position. */
export function framesToSequences(g: Graph, x: string, ctx: FrameContext, channels: number): string {
  const L = g.op("Slice", [g.op("Shape", [x]), g.constInt64([1]), g.constInt64([2])]);
  // [B, F, L, C]
  const u = g.op("Reshape", [x, g.op("Concat", [g.constInt64([-1]), ctx.frames, L, g.constInt64([channels])], { axis: 0 })]);
  const t = g.op("Transpose", [u], { perm: [0, 2, 1, 3] }); // [B, L, F, C]
  return g.op("Reshape", [t, g.op("Concat", [g.constInt64([-1]), ctx.frames, g.constInt64([channels])], { axis: 0 })]);
}

/** Inverse of `framesToSequences`: [(B·L), F, C] → [(B·F), L, C], given L as int64 [1]. */
export function sequencesToFrames(g: Graph, x: string, ctx: FrameContext, L: string, channels: number): string {
  // [B, L, F, C]
  const u = g.op("Reshape", [x, g.op("Concat", [g.constInt64([-1]), L, ctx.frames, g.constInt64([channels])], { axis: 0 })]);
  const t = g.op("Transpose", [u], { perm: [0, 2, 1, 3] }); // [B, F, L, C]
  return g.op("Reshape", [t, g.op("Concat", [g.constInt64([-1]), L, g.constInt64([channels])], { axis: 0 })]);
}

/** [(B·F), C, H, W] → [(B·H·W), C, F] for a 1D convolution over frames, and back. */
export function imagesToTemporal(
  g: Graph,
  x: string,
  ctx: FrameContext,
  channels: number,
): { seq: string; restore: (y: string) => string } {
  const shape = g.op("Shape", [x]);
  const hw = g.op("Slice", [shape, g.constInt64([2]), g.constInt64([4])]); // [H, W]
  // [B, F, C, H, W]
  const u = g.op("Reshape", [x, g.op("Concat", [g.constInt64([-1]), ctx.frames, g.constInt64([channels]), hw], { axis: 0 })]);
  const t = g.op("Transpose", [u], { perm: [0, 3, 4, 2, 1] }); // [B, H, W, C, F]
  const seq = g.op("Reshape", [t, g.op("Concat", [g.constInt64([-1, channels]), ctx.frames], { axis: 0 })]); // [(B·H·W), C, F]
  const restore = (y: string) => {
    // [B, H, W, C, F]
    const v = g.op("Reshape", [y, g.op("Concat", [g.constInt64([-1]), hw, g.constInt64([channels]), ctx.frames], { axis: 0 })]);
    const back = g.op("Transpose", [v], { perm: [0, 4, 3, 1, 2] }); // [B, F, C, H, W]
    return g.op("Reshape", [back, shape]);
  };
  return { seq, restore };
}

/** [(B·F), C, H, W] → [B, C, F, H·W] (one clip per batch entry), and back. */
export function imagesToClip(g: Graph, x: string, ctx: FrameContext, channels: number): { clip: string; restore: (y: string) => string } {
  const shape = g.op("Shape", [x]);
  const flat = g.op("Reshape", [x, g.constInt64([0, 0, -1])]); // [(B·F), C, H·W]
  const hw = g.op("Slice", [g.op("Shape", [flat]), g.constInt64([2]), g.constInt64([3])]);
  // [B, F, C, H·W]
  const u = g.op("Reshape", [flat, g.op("Concat", [g.constInt64([-1]), ctx.frames, g.constInt64([channels]), hw], { axis: 0 })]);
  const clip = g.op("Transpose", [u], { perm: [0, 2, 1, 3] }); // [B, C, F, H·W]
  const restore = (y: string) => g.op("Reshape", [g.op("Transpose", [y], { perm: [0, 2, 1, 3] }), shape]);
  return { clip, restore };
}
