// Multi-head attention written out as MatMul → Softmax → MatMul, so that the attention probabilities
// are a named value in the graph: the FateZero engine reads and fuses them there, instead of storing them.
import type { Graph } from "./graph";
import { inChunks, sliceAxis } from "./layers";

/**
 * The output [N, H, Lq, d] of an attention from its probabilities [N, H, Lq, Lk] and values [N, H, Lk, d]
 * (plain attention: probs · values); a hook records or fuses the probabilities on the way.
 */
export type AttentionOutputHook = (probs: string, values: string) => string;

/**
 * Most attention scores (queries × keys) computed at once per batch entry and head: 2²¹ values, 8 MB. Longer
 * products are computed in query chunks (softmax is per query, so chunks are exact), which bounds the working
 * memory of a 64² layer at 512² to the chunk's instead of the whole [N, Lq, Lk].
 */
export const SCORES_BLOCK = 1 << 21;

/** Queries per chunk for `queryLength` queries over `keyLength` keys (all of them when the product fits). */
export function queryChunk(queryLength: number, keyLength: number): number {
  const chunks = Math.ceil((queryLength * keyLength) / SCORES_BLOCK);
  return Math.ceil(queryLength / chunks);
}

/** [N, L, H·d] → [N, H, L, d]. */
export function splitHeads(g: Graph, x: string, heads: number, headDim: number): string {
  const r = g.op("Reshape", [x, g.constInt64([0, 0, heads, headDim])]); // [N, L, H, d]
  return g.op("Transpose", [r], { perm: [0, 2, 1, 3] });
}

/** [N, H, L, d] → [N, L, H·d]. */
export function mergeHeads(g: Graph, x: string, heads: number, headDim: number): string {
  const t = g.op("Transpose", [x], { perm: [0, 2, 1, 3] }); // [N, L, H, d]
  return g.op("Reshape", [t, g.constInt64([0, 0, heads * headDim])]);
}

/** Options of one attention. */
export interface AttentionOptions {
  /** Added to the scores before the softmax. */
  mask?: string;
  /** Computes the output from the probabilities; it needs every query at once, so it turns query chunks off. */
  output?: AttentionOutputHook;
  /** One head at a time (as diffusers' sliced attention): only one head's scores exist at once. */
  perHead?: boolean;
  /** Static query and key lengths, when known: longer products than SCORES_BLOCK are computed in query chunks. */
  lengths?: { query: number; key: number };
}

/**
 * softmax(q·kᵀ/√d + mask)·v for q [N, Lq, C] and k, v [N, Lk, C], split into `heads` heads.
 * With `perHead` (or without `output`) the heads are computed one at a time, so only one head's
 * [N, Lq, Lk] scores exist at once; `output` then sees [N, 1, Lq, Lk] per head (head-wise operations only).
 */
export function attention(
  g: Graph,
  q: string,
  k: string,
  v: string,
  heads: number,
  headDim: number,
  options: AttentionOptions = {},
): string {
  // Scaling q (N·Lq·C values) is cheaper than scaling the scores (N·H·Lq·Lk).
  const qh = splitHeads(g, g.op("Mul", [q, g.constFloat([1 / Math.sqrt(headDim)], [])]), heads, headDim); // [N, H, Lq, d]
  const kT = g.op("Transpose", [g.op("Reshape", [k, g.constInt64([0, 0, heads, headDim])])], { perm: [0, 2, 3, 1] }); // [N, H, d, Lk]
  const vh = splitHeads(g, v, heads, headDim); // [N, H, Lk, d]
  const core = (qs: string, ks: string, vs: string): string => {
    let scores = g.op("MatMul", [qs, ks]); // [N, h, Lq, Lk]
    if (options.mask) scores = g.op("Add", [scores, options.mask]);
    const probs = g.op("Softmax", [scores], { axis: -1 });
    return options.output ? options.output(probs, vs) : g.op("MatMul", [probs, vs]); // [N, h, Lq, d]
  };
  const perHead = (options.perHead || !options.output) && heads > 1;
  const kHeads = perHead ? Array.from({ length: heads }, (_, i) => sliceAxis(g, kT, 1, i, i + 1)) : [kT]; // [N, 1, d, Lk] each
  const vHeads = perHead ? Array.from({ length: heads }, (_, i) => sliceAxis(g, vh, 1, i, i + 1)) : [vh];
  // The queries of one chunk, through every head: [N, H, Lc, d].
  const block = (qs: string): string => {
    if (!perHead) return core(qs, kT, vh);
    return g.op(
      "Concat",
      kHeads.map((kHead, i) => core(sliceAxis(g, qs, 1, i, i + 1), kHead, vHeads[i])),
      { axis: 1 },
    );
  };
  const L = options.lengths;
  const chunk = L && !options.output ? queryChunk(L.query, L.key) : Infinity;
  const out = L ? inChunks(g, qh, 2, L.query, chunk, block) : block(qh); // [N, H, Lq, d]
  return mergeHeads(g, out, heads, headDim); // [N, Lq, C]
}
