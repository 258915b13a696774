// Bounded working memory inside the graphs: attention over long query sequences runs in query chunks and the
// feed-forward in position chunks. Both are exact (each query's softmax, each position's layers stand alone):
// the chunked graph computes what the whole one does, with a last chunk shorter than the others.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { attention, queryChunk, SCORES_BLOCK } from "../src/onnx/attention";
import { DType, Graph } from "../src/onnx/graph";
import { inChunks, linear } from "../src/onnx/layers";
import { openSession } from "../src/onnx/session";
import type { WeightSource } from "../src/onnx/weightSource";
import { tempDir } from "./sharedData";

/** Weights held in the graph itself (none here but the feed-forward's). */
function inlineWeights(values: Record<string, Float32Array>): WeightSource {
  return {
    has: (name) => name in values,
    shapeOf: () => undefined,
    reference: (name) => ({ kind: "inline", data: values[name] }) as ReturnType<WeightSource["reference"]>,
  };
}

const wave = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) + 0.3 * Math.cos(i * f * 2.7));

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("attention in query chunks equals attention over all queries", async () => {
  const [Lq, Lk, heads, d] = [3001, 1000, 2, 8];
  const chunk = queryChunk(Lq, Lk);
  assert.ok(Lq * Lk > SCORES_BLOCK && chunk < Lq && Lq % chunk !== 0, `chunks of ${chunk} (the last one shorter)`);
  assert.equal(queryChunk(1024, 2048), 1024, "FateZero's controlled layers (32², two key frames) stay whole");
  const g = new Graph("chunked-attention", inlineWeights({}));
  const q = g.input("q", DType.float, [1, Lq, heads * d]);
  const k = g.input("k", DType.float, [1, Lk, heads * d]);
  const v = g.input("v", DType.float, [1, Lk, heads * d]);
  const lengths = { query: Lq, key: Lk };
  g.output("whole", attention(g, q, k, v, heads, d), DType.float);
  g.output("chunked", attention(g, q, k, v, heads, d, { lengths }), DType.float);
  const session = await openSession(g, [], { cacheDir: tempDir("chunked-attention") });
  const out = await session.run({
    q: new ort.Tensor("float32", wave(Lq * heads * d, 0.013), [1, Lq, heads * d]),
    k: new ort.Tensor("float32", wave(Lk * heads * d, 0.029), [1, Lk, heads * d]),
    v: new ort.Tensor("float32", wave(Lk * heads * d, 0.041), [1, Lk, heads * d]),
  });
  assert.ok(maxDiff(out.whole.data as Float32Array, out.chunked.data as Float32Array) <= 1e-6);
});

test("a per-position layer in position chunks equals it over all positions", async () => {
  const [L, C] = [10, 4];
  const weights = { "ff.weight": wave(3 * C, 0.7), "ff.bias": wave(3, 0.3) };
  const g = new Graph("chunked-positions", inlineWeights(weights));
  const x = g.input("x", DType.float, [2, L, C]);
  const ff = (piece: string) => linear(g, piece, "ff", C, 3);
  g.output("whole", inChunks(g, x, 1, L, L, ff), DType.float);
  g.output("chunked", inChunks(g, x, 1, L, 3, ff), DType.float);
  const session = await openSession(g, [], { cacheDir: tempDir("chunked-positions") });
  const out = await session.run({ x: new ort.Tensor("float32", wave(2 * L * C, 0.19), [2, L, C]) });
  assert.deepEqual(out.chunked.dims, [2, L, 3]);
  assert.ok(maxDiff(out.whole.data as Float32Array, out.chunked.data as Float32Array) <= 1e-7);
});
