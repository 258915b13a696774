// Multi-head attention written out as MatMul → Softmax → MatMul, so that the attention probabilities
// are a named value in the graph: the FateZero engine reads and fuses them there, instead of storing them.
import type { Graph } from "./graph";

/** Rewrites or records attention probabilities [N, H, Lq, Lk]; returns the probabilities to use. */
export type ProbsHook = (probs: string) => string;

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

/**
 * softmax(q·kᵀ/√d + mask)·v for q [N, Lq, C] and k, v [N, Lk, C], split into `heads` heads.
 * `mask` is added to the scores before the softmax; `onProbs` sees the probabilities [N, H, Lq, Lk].
 * With `perHead` (or without `onProbs`) the heads are computed one at a time, as diffusers' sliced
 * attention does, so only one head's [N, Lq, Lk] scores exist at once; `onProbs` then sees [N, 1, Lq, Lk]
 * per head (head-wise operations only).
 */
export function attention(
  g: Graph,
  q: string,
  k: string,
  v: string,
  heads: number,
  headDim: number,
  options: { mask?: string; onProbs?: ProbsHook; perHead?: boolean } = {},
): string {
  // Scaling q (N·Lq·C values) is cheaper than scaling the scores (N·H·Lq·Lk).
  const qh = splitHeads(g, g.op("Mul", [q, g.constFloat([1 / Math.sqrt(headDim)], [])]), heads, headDim); // [N, H, Lq, d]
  const kT = g.op("Transpose", [g.op("Reshape", [k, g.constInt64([0, 0, heads, headDim])])], { perm: [0, 2, 3, 1] }); // [N, H, d, Lk]
  const vh = splitHeads(g, v, heads, headDim); // [N, H, Lk, d]
  const core = (qs: string, ks: string, vs: string, onProbs?: ProbsHook): string => {
    let scores = g.op("MatMul", [qs, ks]); // [N, h, Lq, Lk]
    if (options.mask) scores = g.op("Add", [scores, options.mask]);
    let probs = g.op("Softmax", [scores], { axis: -1 });
    if (onProbs) probs = onProbs(probs);
    return g.op("MatMul", [probs, vs]); // [N, h, Lq, d]
  };
  const perHead = options.perHead || !options.onProbs;
  if (!perHead || heads === 1) return mergeHeads(g, core(qh, kT, vh, options.onProbs), heads, headDim); // [N, Lq, C]
  const head = (x: string, i: number) => g.op("Slice", [x, g.constInt64([i]), g.constInt64([i + 1]), g.constInt64([1])]);
  const outs = Array.from({ length: heads }, (_, i) => core(head(qh, i), head(kT, i), head(vh, i), options.onProbs));
  return mergeHeads(g, g.op("Concat", outs, { axis: 1 }), heads, headDim); // [N, Lq, C]
}
