// The attention fusion inside the graph against FateZero's formulas written out on plain arrays: the graph
// fuses self-attention on the outputs (M·(P_edit·V_edit) + (1 − M)·(P_src·V_edit)), which must equal the
// product of the fused probabilities (M·P_edit + (1 − M)·P_src)·V_edit for any mask, not only 0/1.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import type { AttentionLayer } from "../src/fatezero/attentionSites";
import { attentionFusion, controlFeeds, selfMaskInput, type UnetControls } from "../src/fatezero/fusionGraph";
import { DType, Graph } from "../src/onnx/graph";
import { openSession } from "../src/onnx/session";
import type { WeightSource } from "../src/onnx/weightSource";
import { tempDir } from "./sharedData";

const noWeights: WeightSource = {
  has: () => false,
  shapeOf: () => undefined,
  reference: () => {
    throw new Error("no weights");
  },
};

/** Deterministic values in (0, 1) (mulberry32). */
function uniform(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  });
}

const [B, F, h, w, d, T] = [3, 2, 2, 2, 3, 5]; // branches [uncond, edit, source], frames, layer size, head width, tokens
const Lq = h * w;

/** One controlled layer of `kind`, its fused output [B·F, 1, Lq, d] from the graph, for probabilities over `Lk` keys. */
async function fusedByGraph(kind: "self" | "cross", Lk: number, probs: Float32Array, values: Float32Array, c: UnetControls) {
  const layer = { module: `layer.${kind}`, kind, height: h, width: w, heads: 1, controlled: true, maskSource: false } as AttentionLayer;
  const fusion = attentionFusion([layer], T);
  const g = new Graph(`fusion-${kind}`, noWeights);
  const frames = g.input("frames", DType.int64, [1]);
  assert.ok(fusion.hook.select(layer));
  const p = g.input("probs", DType.float, [B * F, 1, Lq, Lk]);
  const v = g.input("values", DType.float, [B * F, 1, Lk, d]);
  g.output("out", fusion.hook.output(layer, p, v, g, frames), DType.float);
  const session = await openSession(g, [], { cacheDir: tempDir("fusion-graph") });
  const out = await session.run({
    frames: new ort.Tensor("int64", BigInt64Array.of(BigInt(F)), [1]),
    probs: new ort.Tensor("float32", probs, [B * F, 1, Lq, Lk]),
    values: new ort.Tensor("float32", values, [B * F, 1, Lk, d]),
    ...controlFeeds(c, F, session.inputNames),
  });
  assert.deepEqual(out.out.dims, [B * F, 1, Lq, d]);
  return out.out.data as Float32Array;
}

/** out[b, f] = P'[b, f] · V[b, f], with P' the (fused) probabilities of branch b: the edit branch reads its own values. */
function product(fusedProbs: (b: number, f: number, q: number, k: number) => number, values: Float32Array, Lk: number) {
  const out = new Float32Array(B * F * Lq * d);
  for (let b = 0; b < B; b++)
    for (let f = 0; f < F; f++)
      for (let q = 0; q < Lq; q++)
        for (let j = 0; j < d; j++) {
          let s = 0;
          for (let k = 0; k < Lk; k++) s += fusedProbs(b, f, q, k) * values[((b * F + f) * Lk + k) * d + j];
          out[((b * F + f) * Lq + q) * d + j] = s;
        }
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function controls(mask: Float32Array): UnetControls {
  return {
    branches: B,
    editBranch: 1,
    sourceBranch: 2,
    crossMatrix: uniform(T * T, 5),
    crossBlend: uniform(T, 6),
    crossEq: uniform(T, 7).map((x) => 2 * x),
    crossAlpha: uniform(T, 8),
    selfMasks: new Map([[selfMaskInput(h, w), mask]]),
  };
}

test("fusion in the graph: self-attention fused on outputs equals the fused probabilities times V_edit, for any mask", async () => {
  const Lk = 2 * Lq; // two key frames
  const probs = uniform(B * F * Lq * Lk, 1);
  const values = uniform(B * F * Lk * d, 2).map((x) => x - 0.5);
  const mask = uniform(F * Lq, 3); // [F, Lq], fractional
  const P = (b: number, f: number, q: number, k: number) => probs[((b * F + f) * Lq + q) * Lk + k];
  const expected = product(
    (b, f, q, k) => {
      if (b !== 1) return P(b, f, q, k);
      const m = mask[f * Lq + q];
      return m * P(1, f, q, k) + (1 - m) * P(2, f, q, k);
    },
    values,
    Lk,
  );
  const got = await fusedByGraph("self", Lk, probs, values, controls(mask));
  assert.ok(maxDiff(got, expected) < 1e-5, `max difference ${maxDiff(got, expected)}`);
  // The edit branch did change: a mask of all ones would have kept P_edit.
  const own = product(P, values, Lk);
  assert.ok(maxDiff(own, expected) > 1e-2);
});

test("fusion in the graph: cross-attention follows P' = α·((P_src·M)·a + P_edit·(1 − a))·eq + (1 − α)·P_edit", async () => {
  const probs = uniform(B * F * Lq * T, 11);
  const values = uniform(B * F * T * d, 12).map((x) => x - 0.5);
  const c = controls(new Float32Array(F * Lq).fill(1));
  const P = (b: number, f: number, q: number, k: number) => probs[((b * F + f) * Lq + q) * T + k];
  const expected = product(
    (b, f, q, k) => {
      if (b !== 1) return P(b, f, q, k);
      let mapped = 0;
      for (let s = 0; s < T; s++) mapped += P(2, f, q, s) * c.crossMatrix[s * T + k];
      const edit = P(1, f, q, k);
      const refined = mapped * c.crossBlend[k] + edit * (1 - c.crossBlend[k]);
      return c.crossAlpha[k] * refined * c.crossEq[k] + (1 - c.crossAlpha[k]) * edit;
    },
    values,
    T,
  );
  const got = await fusedByGraph("cross", T, probs, values, c);
  assert.ok(maxDiff(got, expected) < 1e-5, `max difference ${maxDiff(got, expected)}`);
});
