// The int8 pass (src/onnx/quantize.ts): weight MatMuls and convolutions become integer products that ONNX
// Runtime really runs (checked in the model it optimizes), attention-like activation products and narrow
// convolutions stay float, and the outputs stay within a stated error of float32 — on a small random graph with
// odd sizes, strides and one-sided padding, and on the fixture UNet read from a half-precision checkpoint.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { DType, Graph } from "../src/onnx/graph";
import { conv2d, linear, silu } from "../src/onnx/layers";
import { outputError, quantizeColumns, quantizeModel, QuantizedGraph, weightReader } from "../src/onnx/quantize";
import type { WeightRef, WeightSource } from "../src/onnx/weightSource";
import { CheckpointWeights } from "../src/onnx/weightSource";
import { openSession } from "../src/onnx/session";
import { unetConfig } from "../src/networks/configs";
import { buildUnetGraph } from "../src/networks/unet";
import { Unet } from "../src/networks/unetSession";
import { KEY_FRAMES_INPUT, keyFramesFeed, type FrameSelector } from "../src/networks/frameLayout";
import { WeightSet } from "../src/checkpoint/weightSet";
import { writeSafetensors } from "../src/checkpoint/safetensors";
import { FIXTURE, tempDir } from "./sharedData";
import { floatToHalf } from "./support/halfFloat";

const work = tempDir("quantize");

/** Deterministic values in [−1, 1). */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Weights made on request, each from its own seed, scaled like a fan-in init. */
class RandomWeights implements WeightSource {
  private seed = 1;
  has(): boolean {
    return true;
  }
  shapeOf(): undefined {
    return undefined;
  }
  reference(name: string, shape: number[]): WeightRef {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = name.endsWith(".bias") ? 1 : n / shape[0];
    const data = noise(n, this.seed++ * 7919).map((v) => v * Math.sqrt(3 / fanIn));
    return { kind: "inline", data, shape };
  }
}

function opCounts(model: onnx.IModelProto): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of model.graph!.node!) counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
  return counts;
}

/** The op types of the model ONNX Runtime actually runs (its optimized graph, written out at load). */
async function optimizedOps(bytes: Uint8Array, tag: string): Promise<Record<string, number>> {
  const file = path.join(work, `${tag}.optimized.onnx`);
  const s = await ort.InferenceSession.create(bytes, { optimizedModelFilePath: file, graphOptimizationLevel: "all" });
  await s.release();
  return opCounts(onnx.ModelProto.decode(fs.readFileSync(file)));
}

/**
 * x [2, 24, 11, 9] → 3×3 conv (24→40) → SiLU → one-side pad + 3×3 stride-2 conv (40→48) → 1×1 conv (48→32)
 * → [2, L, 32] → linear with bias (32→40) → attention-like x·xᵀ·x (activations only) → linear without bias
 * (40→24); plus a 3×3 conv to 8 channels, narrower than the pass quantizes.
 */
function smallGraph(): Graph {
  const g = new Graph("quantize_test", new RandomWeights());
  const x = g.input("x", DType.float, [2, 24, 11, 9]);
  let h = silu(g, conv2d(g, x, "conv1", 24, 40, 3));
  h = g.op("Pad", [h, g.constInt64([0, 0, 0, 0, 0, 0, 1, 1])]);
  h = conv2d(g, h, "down", 40, 48, 3, { stride: 2, pad: 0 }); // [2, 48, 5, 4]
  h = conv2d(g, h, "proj", 48, 32, 1); // [2, 32, 5, 4]
  const narrow = conv2d(g, h, "narrow", 32, 8, 3); // [2, 8, 5, 4]
  let t = g.op("Transpose", [g.op("Reshape", [h, g.constInt64([2, 32, -1])])], { perm: [0, 2, 1] }); // [2, 20, 32]
  t = linear(g, t, "fc1", 32, 40);
  const scores = g.op("Softmax", [g.op("MatMul", [t, g.op("Transpose", [t], { perm: [0, 2, 1] })])], { axis: -1 }); // [2, 20, 20]
  t = g.op("MatMul", [scores, t]); // [2, 20, 40]
  t = linear(g, t, "fc2", 40, 24, false); // [2, 20, 24]
  g.output("y", t, DType.float, [2, 20, 24]);
  g.output("narrow", narrow, DType.float, [2, 8, 5, 4]);
  return g;
}

test("quantizeColumns: symmetric int8 per column, the largest magnitude at ±127", () => {
  const w = Float32Array.of(1.1, -0.6, 0, -2, 0.25, 0, 0.5, 1, 0); // [3, 3], column 2 all zero
  const { q, scale } = quantizeColumns(w, 3, 3);
  assert.deepEqual([...scale], [Math.fround(2 / 127), Math.fround(1 / 127), 1]);
  assert.deepEqual([...q], [70, -76, 0, -127, 32, 0, 32, 127, 0]);
});

test("a small graph: weight products become integer ops that ONNX Runtime keeps, outputs near float32", async () => {
  const g = smallGraph();
  const fp32 = g.toModel();
  const { model, report } = quantizeModel(fp32, weightReader([]));
  assert.equal(report.matmuls, 2);
  assert.equal(report.biasesFolded, 1);
  assert.equal(report.convs, 3);
  assert.deepEqual(report.keptFloat, { Conv: 1 });
  assert.equal(report.int8Parameters, 24 * 40 * 9 + 40 * 48 * 9 + 48 * 32 + 32 * 40 + 40 * 24);

  const ops = opCounts(model);
  assert.equal(ops.DynamicQuantizeMatMul, 2);
  assert.equal(ops.MatMulIntegerToFloat, 3);
  assert.equal(ops.DynamicQuantizeLinear, 3);
  assert.equal(ops.Conv, 1, "the 8-channel conv stays float");
  assert.equal(ops.MatMul, 2, "x·xᵀ and P·x stay float");
  const floatWeights = model.graph!.initializer!.filter(
    (t) => t.dataType === DType.float && /^(conv1|down|proj|fc1|fc2)\.weight$/.test(t.name!),
  );
  assert.deepEqual(floatWeights, [], "no float copy of a quantized weight is left in the model");

  const bytes = onnx.ModelProto.encode(model).finish();
  const ran = await optimizedOps(bytes, "small");
  assert.equal(ran.DynamicQuantizeMatMul, 2, JSON.stringify(ran));
  assert.equal(ran.MatMulIntegerToFloat, 3, JSON.stringify(ran));

  const x = noise(2 * 24 * 11 * 9, 5);
  const feeds = { x: new ort.Tensor("float32", x, [2, 24, 11, 9]) };
  const ref = await (await ort.InferenceSession.create(onnx.ModelProto.encode(fp32).finish())).run(feeds);
  const got = await (await ort.InferenceSession.create(bytes)).run(feeds);
  assert.deepEqual(got.y.dims, [2, 20, 24]);
  const e = outputError(got.y.data as Float32Array, ref.y.data as Float32Array);
  // Measured: max 2.8 %, mean 1.0 % of the reference's scale (five int8 products in a row).
  assert.ok(e.maxRel < 0.04 && e.meanRel < 0.02, JSON.stringify(e));
  assert.ok(e.max > 0, "the int8 path must differ from float32 somewhere");
  const narrow = outputError(got.narrow.data as Float32Array, ref.narrow.data as Float32Array);
  assert.ok(narrow.meanRel < 0.02, JSON.stringify(narrow));
});

/** DynamicQuantizeLinear's values, dequantized: uint8, asymmetric, the range stretched to hold 0. */
function fakeQuantize(x: Float32Array): Float32Array {
  let lo = 0;
  let hi = 0;
  for (const v of x) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
  const scale = Math.fround((hi - lo) / 255);
  const even = (v: number) => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));
  const zp = Math.max(0, Math.min(255, even(-lo / scale)));
  return x.map((v) => (Math.max(0, Math.min(255, even(Math.fround(v / scale)) + zp)) - zp) * scale);
}

test("one int8 conv (stride 2, one-sided pads, odd sizes) computes exactly the conv of the quantized values", async () => {
  const [N, C, H, W, O, k, s] = [2, 20, 11, 8, 24, 3, 2];
  const pads = [0, 1, 1, 0]; // top, left, bottom, right
  const g = new Graph("quantize_conv", new RandomWeights());
  const x = g.input("x", DType.float, [N, C, H, W]);
  const y = g.op("Conv", [x, g.weight("c.weight", [O, C, k, k]), g.weight("c.bias", [O])], { kernel_shape: [k, k], strides: [s, s], pads });
  const [Ho, Wo] = [Math.floor((H + pads[0] + pads[2] - k) / s) + 1, Math.floor((W + pads[1] + pads[3] - k) / s) + 1];
  g.output("y", y, DType.float, [N, O, Ho, Wo]);
  const fp32 = g.toModel();
  const { model, report } = quantizeModel(fp32, weightReader([]));
  assert.equal(report.convs, 1);
  const xs = noise(N * C * H * W, 11).map((v, i) => v * (1 + (i % 7))); // uneven range, not centred
  const out = await (
    await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish())
  ).run({ x: new ort.Tensor("float32", xs, [N, C, H, W]) });
  assert.deepEqual(out.y.dims, [N, O, Ho, Wo]);

  // The reference: the same int8 kernel and uint8 input, dequantized, convolved in double precision.
  const read = weightReader([]);
  const inits = new Map(fp32.graph!.initializer!.map((t) => [t.name!, t]));
  const w = read(inits.get("c.weight")!);
  const bias = read(inits.get("c.bias")!);
  const wq = new Float32Array(w.length);
  for (let o = 0; o < O; o++) {
    const row = w.subarray(o * C * k * k, (o + 1) * C * k * k);
    const { q, scale } = quantizeColumns(row, row.length, 1);
    for (let i = 0; i < row.length; i++) wq[o * C * k * k + i] = q[i] * scale[0];
  }
  const xq = fakeQuantize(xs);
  const got = out.y.data as Float32Array;
  let worst = 0;
  let refMax = 0;
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let acc = bias[o];
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < k; ky++)
              for (let kx = 0; kx < k; kx++) {
                const iy = oy * s - pads[0] + ky;
                const ix = ox * s - pads[1] + kx;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                  acc += xq[((n * C + c) * H + iy) * W + ix] * wq[((o * C + c) * k + ky) * k + kx];
              }
          worst = Math.max(worst, Math.abs(acc - got[((n * O + o) * Ho + oy) * Wo + ox]));
          refMax = Math.max(refMax, Math.abs(acc));
        }
  assert.ok(worst < 1e-5 * refMax, `max deviation ${worst} of ${refMax}`);
});

test("a weight read by two products is quantized once", () => {
  const g = new Graph("quantize_shared", new RandomWeights());
  const x = g.input("x", DType.float, [2, 6, 32]);
  const halves = [0, 1].map((i) =>
    linear(g, g.op("Slice", [x, g.constInt64([3 * i]), g.constInt64([3 * i + 3]), g.constInt64([1])]), "fc", 32, 24),
  );
  g.output("y", g.op("Concat", halves, { axis: 1 }), DType.float, [2, 6, 24]);
  const { model, report } = quantizeModel(g.toModel(), weightReader([]));
  assert.equal(report.matmuls, 2);
  assert.equal(report.int8Parameters, 32 * 24);
  const names = model.graph!.initializer!.map((t) => t.name!);
  assert.equal(names.filter((n) => n === "fc.weight.int8").length, 1);
  assert.equal(new Set(names).size, names.length, "initializer names are unique");
});

test("MatMul/Conv options and the include filter leave products float", () => {
  const fp32 = smallGraph().toModel();
  const noConv = quantizeModel(fp32, weightReader([]), { conv: false });
  assert.equal(noConv.report.convs, 0);
  assert.equal(opCounts(noConv.model).Conv, 4);
  const onlyFc1 = quantizeModel(fp32, weightReader([]), { conv: false, include: (n) => n === "fc1.weight" });
  assert.equal(onlyFc1.report.matmuls, 1);
  assert.deepEqual(onlyFc1.report.keptFloat, { MatMul: 1 });
});

test("the fixture UNet from a float16 checkpoint: int8 graph through openSession, noise near float32", async () => {
  const unetDir = path.join(FIXTURE, "model/unet");
  const config = unetConfig(JSON.parse(fs.readFileSync(path.join(unetDir, "config.json"), "utf8")));
  const original = WeightSet.open([path.join(unetDir, "diffusion_pytorch_model.safetensors")]);
  const file = path.join(work, "unet-f16.safetensors");
  writeSafetensors(
    file,
    original.names().map((n) => ({
      name: n,
      dtype: "F16" as const,
      shape: original.shape(n),
      data: () => {
        const v = original.readFloat32(n);
        const half = new Uint16Array(v.length);
        for (let i = 0; i < v.length; i++) half[i] = floatToHalf(v[i]);
        return new Uint8Array(half.buffer);
      },
    })),
  );
  const weights = WeightSet.open([file]);
  const cacheDir = path.join(work, "cache");
  const video = { selectors: [-1, "first"] as FrameSelector[], leastScChannel: 0 };
  const fp32 = await Unet.load(config, weights, { cacheDir, video });
  const source = new CheckpointWeights("unet", weights);
  const graph = new QuantizedGraph(buildUnetGraph(config, source, { video }), source.linkedFiles());
  const session = await openSession(graph, source.linkedFiles(), { cacheDir });
  assert.ok(graph.report.matmuls > 0 && graph.report.convs > 0, JSON.stringify(graph.report));
  assert.deepEqual(graph.report.keptFloat, { Conv: 2 }, "conv_in and conv_out (4 channels) stay float");

  const sample = Float32Array.from({ length: 4 * 3 * 16 * 16 }, (_, i) => Math.cos(i * 0.11)); // [1, 4, F=3, 16, 16]
  const context = Float32Array.from({ length: 77 * 32 }, (_, i) => Math.sin(i * 0.37));
  const ref = await fp32.predict(sample, [1, 4, 3, 16, 16], 500, context);
  assert.ok(session.inputNames.includes(KEY_FRAMES_INPUT));
  const out = await session.run({
    sample: new ort.Tensor("float32", sample, [1, 4, 3, 16, 16]),
    timestep: new ort.Tensor("float32", Float32Array.of(500), [1]),
    encoder_hidden_states: new ort.Tensor("float32", context, [1, 77, 32]),
    [KEY_FRAMES_INPUT]: keyFramesFeed(video.selectors, 3),
  });
  const e = outputError(out.noise_pred.data as Float32Array, ref);
  // Measured: max 7.8 %, mean 5.9 % of the reference's scale (this random 16–32-channel UNet amplifies errors).
  assert.ok(e.maxRel < 0.13 && e.meanRel < 0.09, JSON.stringify(e));
  assert.ok(e.max > 0);
});
