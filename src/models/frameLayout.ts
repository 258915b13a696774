// Video tensors inside the inflated UNet keep frames folded into the batch axis ([(B·F), C, H, W], as
// FateZero's rearranges do), so every per-image layer works unchanged. The few layers that mix frames
// (sparse-causal attention, temporal attention, temporal convolution) unfold them here; the frame count
// F is read from the input's shape, so one graph serves any clip length.
import type { Graph } from "../onnx/graph";

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

/** Index vectors for the selectors: int k → clamp(i + k, 0, F−1); 'first' → 0; 'last' → F−1; 'mid' → ⌊(F−1)/2⌋. */
export function frameContext(g: Graph, frames: string, selectors: FrameSelector[]): FrameContext {
  const map = new Map<string, string>();
  const fScalar = g.op("Squeeze", [frames, g.constInt64([0])]);
  const last = g.op("Sub", [frames, g.constInt64([1])]); // [1]
  const range = g.op("Range", [g.constInt64([0], []), fScalar, g.constInt64([1], [])]); // [F]
  const zeros = g.op("Mul", [range, g.constInt64([0])]); // [F] of 0, shaped like the frames
  for (const s of selectors) {
    const key = String(s);
    if (map.has(key)) continue;
    let idx: string;
    if (typeof s === "number") idx = g.op("Min", [g.op("Max", [g.op("Add", [range, g.constInt64([s])]), g.constInt64([0])]), last]);
    else if (s === "first") idx = zeros;
    else if (s === "last") idx = g.op("Add", [zeros, last]);
    else idx = g.op("Add", [zeros, g.op("Div", [last, g.constInt64([2])])]);
    map.set(key, idx);
  }
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
