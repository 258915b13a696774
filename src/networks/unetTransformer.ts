// The UNet's attention blocks: diffusers' Transformer2DModel / BasicTransformerBlock, and FateZero's
// SpatioTemporalTransformerBlock when frames are present (sparse-causal self-attention over selected
// frames, then temporal attention after the feed-forward; the transformer's norms stay per frame). Every spatial attention
// exposes its probabilities to an `AttentionHook`, the seam where the FateZero engine fuses attention.
import { attention } from "../onnx/attention";
import type { Graph } from "../onnx/graph";
import { conv2d, gelu, groupNorm, inChunks, layerNorm, linear, sliceAxis } from "../onnx/layers";
import { framesToSequences, gatherFrames, sequencesToFrames, type FrameContext, type FrameSelector } from "./frameLayout";

/** One attention layer of the UNet: where it sits, its width, and what its queries read. */
export interface AttentionSite {
  /** Module path, e.g. "down_blocks.1.attentions.0.transformer_blocks.0.attn2". */
  module: string;
  kind: "self" | "cross";
  place: "down" | "mid" | "up";
  /** Resolution level: 0 is the full latent size, each level halves it. */
  level: number;
  channels: number;
  heads: number;
  /** Queries per frame, height × width, when the UNet is built for a fixed latent size. */
  height?: number;
  width?: number;
  /** Frames the self-attention's keys come from (sparse-causal); [] = the frame itself, as for cross-attention. */
  selectors: FrameSelector[];
}

/** One Transformer2DModel of the UNet: where it sits and its width. */
export interface TransformerPlace {
  /** Module path, e.g. "down_blocks.1.attentions.0". */
  prefix: string;
  place: AttentionSite["place"];
  /** Resolution level: 0 is the full latent size, each level halves it. */
  level: number;
  channels: number;
  heads: number;
}

/** A transformer's two attention layers, self then cross, for a latent of `latentSize` (if fixed) and self-attention keys from `selectors`. */
export function transformerSites(
  t: TransformerPlace,
  latentSize: [number, number] | undefined,
  selectors: FrameSelector[],
): [AttentionSite, AttentionSite] {
  const size = latentSize ? { height: latentSize[0] >> t.level, width: latentSize[1] >> t.level } : {};
  const site = (kind: AttentionSite["kind"], keys: FrameSelector[]): AttentionSite => ({
    module: `${t.prefix}.transformer_blocks.0.attn${kind === "self" ? 1 : 2}`,
    kind,
    place: t.place,
    level: t.level,
    channels: t.channels,
    heads: t.heads,
    ...size,
    selectors: keys,
  });
  return [site("self", [...selectors]), site("cross", [])];
}

/**
 * Reads or fuses the probabilities [N, heads, Lq, Lk] of the attention layers it selects. Self-attention
 * is computed one head at a time (output then sees [N, 1, Lq, Lk] per head, so it must act head-wise);
 * cross-attention, small with one key per text token, with all heads at once.
 */
export interface AttentionHook {
  select(site: AttentionSite): boolean;
  /**
   * The attention's output [N, heads, Lq, d] from `probs` and `values` [N, heads, Lk, d] (plain: probs · values),
   * adding nodes to `g`; `frames` is the clip's frame count, int64 [1], in the video UNet (N = B·F).
   */
  output(site: AttentionSite, probs: string, values: string, g: Graph, frames?: string): string;
}

/**
 * Most values of the feed-forward's widest activation (positions × 8·C, per batch entry) computed at once:
 * 2²² values, 16 MB. Larger layers (64² at 512²) run it in position chunks; each position is independent.
 */
const FEED_FORWARD_BLOCK = 1 << 22;

/** Options of one Transformer2DModel. */
export interface TransformerOptions {
  /** Its attention layers (transformerSites): their width, heads, query size and key frames. */
  self: AttentionSite;
  cross: AttentionSite;
  crossDim: number;
  groups: number;
  linearProjection: boolean;
  /** Text embeddings, one row per folded batch entry: [N, T, crossDim]. */
  context: string;
  /** The clip's frames, in the video UNet (self-attention over the selected frames, temporal attention). */
  video?: FrameContext;
  onAttention?: AttentionHook;
  /** Self-attention one head at a time (default): less memory on a CPU; a GPU is faster with all heads at once. */
  perHeadSelfAttention?: boolean;
}

/** Transformer2DModel: GroupNorm → proj_in → one transformer block → proj_out, plus the residual. */
export function transformer2d(g: Graph, x: string, prefix: string, o: TransformerOptions): string {
  const C = o.self.channels;
  return g.scoped(prefix, () => {
    const shape = g.op("Shape", [x]);
    const normed = groupNorm(g, x, `${prefix}.norm`, C, o.groups, 1e-6);
    const toSeq = (v: string) => g.op("Transpose", [g.op("Reshape", [v, g.constInt64([0, C, -1])])], { perm: [0, 2, 1] }); // [N, HW, C]
    const fromSeq = (v: string) => g.op("Reshape", [g.op("Transpose", [v], { perm: [0, 2, 1] }), shape]); // [N, C, H, W]
    let h = o.linearProjection
      ? linear(g, toSeq(normed), `${prefix}.proj_in`, C, C)
      : toSeq(conv2d(g, normed, `${prefix}.proj_in`, C, C, 1));
    h = transformerBlock(g, h, `${prefix}.transformer_blocks.0`, o);
    const out = o.linearProjection
      ? fromSeq(linear(g, h, `${prefix}.proj_out`, C, C))
      : conv2d(g, fromSeq(h), `${prefix}.proj_out`, C, C, 1);
    return g.op("Add", [out, x]);
  });
}

function transformerBlock(g: Graph, x: string, prefix: string, o: TransformerOptions): string {
  const C = o.self.channels;
  const heads = o.self.heads;
  const headDim = C / heads;
  const hook = (s: AttentionSite) =>
    o.onAttention?.select(s) ? (p: string, v: string) => o.onAttention!.output(s, p, v, g, o.video?.frames) : undefined;

  // 1. Self-attention; with frames, keys and values come from the selected frames.
  const selectors = o.self.selectors;
  let h = layerNorm(g, x, `${prefix}.norm1`, C, 1e-5);
  const q1 = linear(g, h, `${prefix}.attn1.to_q`, C, C, false);
  let k1 = linear(g, h, `${prefix}.attn1.to_k`, C, C, false);
  let v1 = linear(g, h, `${prefix}.attn1.to_v`, C, C, false);
  if (o.video && selectors.length > 0) {
    k1 = gatherFrames(g, k1, o.video, selectors, C);
    v1 = gatherFrames(g, v1, o.video, selectors, C);
  }
  // Self-attention probabilities are the largest tensors of the UNet: compute (and fuse) them head by head,
  // and, where nothing reads them, in query chunks.
  const positions = o.self.height !== undefined && o.self.width !== undefined ? o.self.height * o.self.width : undefined;
  const keyFrames = o.video && selectors.length > 0 ? selectors.length : 1;
  const a1 = attention(g, q1, k1, v1, heads, headDim, {
    output: hook(o.self),
    perHead: o.perHeadSelfAttention ?? true,
    ...(positions ? { lengths: { query: positions, key: positions * keyFrames } } : {}),
  });
  x = g.op("Add", [x, linear(g, a1, `${prefix}.attn1.to_out.0`, C, C)]);

  // 2. Cross-attention on the text embeddings.
  h = layerNorm(g, x, `${prefix}.norm2`, C, 1e-5);
  const q2 = linear(g, h, `${prefix}.attn2.to_q`, C, C, false);
  const k2 = linear(g, o.context, `${prefix}.attn2.to_k`, o.crossDim, C, false);
  const v2 = linear(g, o.context, `${prefix}.attn2.to_v`, o.crossDim, C, false);
  const a2 = attention(g, q2, k2, v2, heads, headDim, { output: hook(o.cross) });
  x = g.op("Add", [x, linear(g, a2, `${prefix}.attn2.to_out.0`, C, C)]);

  // 3. GEGLU feed-forward, per position.
  const feedForward = (piece: string): string => {
    const normed = layerNorm(g, piece, `${prefix}.norm3`, C, 1e-5);
    const proj = linear(g, normed, `${prefix}.ff.net.0.proj`, C, 8 * C); // [N, L, 2·4C]
    const gated = g.op("Mul", [sliceAxis(g, proj, 2, 0, 4 * C), gelu(g, sliceAxis(g, proj, 2, 4 * C, 8 * C))]);
    return linear(g, gated, `${prefix}.ff.net.2`, 4 * C, C);
  };
  const ffChunk = positions ? Math.ceil(positions / Math.ceil((positions * 8 * C) / FEED_FORWARD_BLOCK)) : Infinity;
  x = g.op("Add", [x, positions ? inChunks(g, x, 1, positions, ffChunk, feedForward) : feedForward(x)]);

  // 4. Temporal attention after the feed-forward (video only).
  return o.video ? temporalAttention(g, x, prefix, o.video, C, heads) : x;
}

/**
 * FateZero's temporal attention: LayerNorm, then self-attention over the frames at each spatial
 * position, added to the input. A checkpoint without `attn_temporal` weights gets none (an exact
 * identity) unless only its output bias is supplied — FateZero's zero-weight inflation adds exactly
 * that bias (from_2d_model initialises it randomly), which is how its outputs are reproduced.
 */
function temporalAttention(g: Graph, x: string, prefix: string, ctx: FrameContext, C: number, heads: number): string {
  const p = `${prefix}.attn_temporal`;
  if (!g.weights.has(`${p}.to_q.weight`)) {
    return g.weights.has(`${p}.to_out.0.bias`) ? g.op("Add", [x, g.weight(`${p}.to_out.0.bias`, [C])]) : x;
  }
  const L = g.op("Slice", [g.op("Shape", [x]), g.constInt64([1]), g.constInt64([2])]);
  const seq = framesToSequences(g, x, ctx, C); // [(B·L), F, C]
  const h = layerNorm(g, seq, `${prefix}.norm_temporal`, C, 1e-5);
  const q = linear(g, h, `${p}.to_q`, C, C, false);
  const k = linear(g, h, `${p}.to_k`, C, C, false);
  const v = linear(g, h, `${p}.to_v`, C, C, false);
  const out = g.op("Add", [seq, linear(g, attention(g, q, k, v, heads, C / heads), `${p}.to_out.0`, C, C)]);
  return sequencesToFrames(g, out, ctx, L, C);
}
