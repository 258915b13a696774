// The UNet graphs beyond the fixture's reference values: half-precision checkpoints, the identity
// inflation of a 2D checkpoint, Tune-A-Video temporal weights mixing frames, and the attention hook.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { unetConfig } from "../src/networks/configs";
import { writeSafetensors, type SafetensorsDtype, type TensorToWrite } from "../src/checkpoint/safetensors";
import { Unet } from "../src/networks/unetSession";
import { WeightSet } from "../src/checkpoint/weightSet";
import { buildUnetGraph } from "../src/networks/unet";
import { openSession } from "../src/onnx/session";
import { CheckpointWeights } from "../src/onnx/weightSource";
import { DType } from "../src/onnx/graph";
import * as ort from "onnxruntime-node";
import { FIXTURE, tempDir } from "./sharedData";
import { floatToHalf } from "./support/halfFloat";

const cacheDir = tempDir("unet-cache");
const work = tempDir("unet-work");
const unetDir = path.join(FIXTURE, "model/unet");
const config = unetConfig(JSON.parse(fs.readFileSync(path.join(unetDir, "config.json"), "utf8")));
const weights = WeightSet.open([path.join(unetDir, "diffusion_pytorch_model.safetensors")]);
const context = Float32Array.from({ length: 77 * 32 }, (_, i) => Math.sin(i * 0.37)); // [1, 77, 32]
const sample4 = Float32Array.from({ length: 4 * 4 * 16 * 16 }, (_, i) => Math.cos(i * 0.11)); // [1, 4, F=4, 16, 16]

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Rewrite the fixture UNet with every float tensor in `dtype`, plus extra tensors. */
function rewrite(name: string, dtype: SafetensorsDtype, extra: TensorToWrite[] = []): WeightSet {
  const file = path.join(work, `${name}.safetensors`);
  const tensors: TensorToWrite[] = weights.names().map((n) => ({
    name: n,
    dtype,
    shape: weights.shape(n),
    data: () => {
      const v = weights.readFloat32(n);
      if (dtype === "F32") return new Uint8Array(v.buffer);
      const out = new Uint16Array(v.length);
      const bits = new Uint32Array(v.buffer);
      for (let i = 0; i < v.length; i++) out[i] = dtype === "F16" ? floatToHalf(v[i]) : (bits[i] + 0x8000) >>> 16;
      return new Uint8Array(out.buffer);
    },
  }));
  writeSafetensors(file, [...tensors, ...extra]);
  return WeightSet.open([file]);
}

function f32Tensor(name: string, shape: number[], fill: (i: number) => number): TensorToWrite {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, dtype: "F32", shape, data: () => new Uint8Array(Float32Array.from({ length: n }, (_, i) => fill(i)).buffer) };
}

test("fp16 and bf16 checkpoints load in place and agree with fp32 within their precision", async () => {
  const ref = await (await Unet.load(config, weights, { cacheDir })).predict(sample4.subarray(0, 1024), [1, 4, 16, 16], 401, context);
  for (const [dtype, tol] of [
    ["F16", 0.02],
    ["BF16", 0.15],
  ] as const) {
    const out = await (
      await Unet.load(config, rewrite(dtype, dtype), { cacheDir })
    ).predict(sample4.subarray(0, 1024), [1, 4, 16, 16], 401, context);
    const d = maxDiff(out, ref);
    assert.ok(d > 0 && d < tol, `${dtype}: max diff ${d}`);
  }
});

const identicalFrames = (): Float32Array => {
  const x = new Float32Array(4 * 4 * 256); // [1, 4, F=4, 16, 16]: every frame equal to frame 0 of sample4
  for (let c = 0; c < 4; c++) for (let f = 0; f < 4; f++) x.set(sample4.subarray(c * 1024, c * 1024 + 256), c * 1024 + f * 256);
  return x;
};
const frameOf = (x: Float32Array, f: number) =>
  Float32Array.from({ length: 1024 }, (_, i) => x[Math.floor(i / 256) * 1024 + f * 256 + (i % 256)]);

test("a 2D checkpoint inflates to the identity: a clip of identical frames gives the image UNet's output on every frame", async () => {
  const image = await Unet.load(config, weights, { cacheDir });
  const yImage = await image.predict(frameOf(identicalFrames(), 0), [1, 4, 16, 16], 401, context);
  for (const selectors of [[-1, "first"], ["mid"]] as const) {
    const video = await Unet.load(config, weights, { cacheDir, video: { selectors: [...selectors], leastScChannel: 0 } });
    const y = await video.predict(identicalFrames(), [1, 4, 4, 16, 16], 401, context);
    for (let f = 0; f < 4; f++) assert.ok(maxDiff(frameOf(y, f), yImage) < 1e-5, `frame ${f} with ${selectors}`);
  }
});

test("Tune-A-Video temporal weights (attention, norm, LoRA temporal conv) are used and act across frames", async () => {
  const extra: TensorToWrite[] = [];
  const block = "down_blocks.1.attentions.0.transformer_blocks.0";
  for (const p of ["to_q", "to_k", "to_v", "to_out.0"])
    extra.push(f32Tensor(`${block}.attn_temporal.${p}.weight`, [32, 32], (i) => Math.sin(i) * 0.2));
  extra.push(f32Tensor(`${block}.attn_temporal.to_out.0.bias`, [32], () => 0.01));
  extra.push(f32Tensor(`${block}.norm_temporal.weight`, [32], () => 1));
  extra.push(f32Tensor(`${block}.norm_temporal.bias`, [32], () => 0));
  extra.push(f32Tensor("conv_in.conv_temporal.down.weight", [8, 16, 3], (i) => Math.cos(i) * 0.1));
  extra.push(f32Tensor("conv_in.conv_temporal.up.weight", [16, 8, 3], (i) => Math.sin(i) * 0.1));
  const tuned = rewrite("tuned", "F32", extra);
  const video = { selectors: [-1, "first"] as (number | "first")[], leastScChannel: 0 };
  const plain = await (await Unet.load(config, weights, { cacheDir, video })).predict(identicalFrames(), [1, 4, 4, 16, 16], 401, context);
  const temporal = await (await Unet.load(config, tuned, { cacheDir, video })).predict(identicalFrames(), [1, 4, 4, 16, 16], 401, context);
  assert.ok(maxDiff(plain, temporal) > 1e-3, "temporal weights change the output");
  assert.ok(maxDiff(frameOf(plain, 0), frameOf(plain, 1)) < 1e-5, "identical frames stay identical without temporal layers");
  // The temporal convolution pads the clip with zeros, so edge frames now differ from inner ones.
  assert.ok(maxDiff(frameOf(temporal, 0), frameOf(temporal, 1)) > 1e-4, "the temporal convolution mixes neighbouring frames");
});

test("the attention hook exposes cross-attention probabilities as graph outputs", async () => {
  const source = new CheckpointWeights("unet", weights);
  const midCross: string[] = [];
  const graph = buildUnetGraph(config, source, {
    onAttention: {
      select: (site) => site.kind === "cross" && site.place === "mid",
      output: (_, probs, values, g) => {
        midCross.push(probs);
        return g.op("MatMul", [probs, values]);
      },
    },
  });
  const outputs = midCross.map((probs, i) => {
    graph.output(`probs_${i}`, probs, DType.float);
    return `probs_${i}`;
  });
  const session = await openSession(graph, source.linkedFiles(), { cacheDir });
  const out = await session.run({
    sample: new ort.Tensor("float32", sample4.subarray(0, 1024), [1, 4, 16, 16]),
    timestep: new ort.Tensor("float32", Float32Array.of(401), [1]),
    encoder_hidden_states: new ort.Tensor("float32", context, [1, 77, 32]),
  });
  assert.deepEqual(outputs, ["probs_0"]);
  const p = out.probs_0;
  assert.deepEqual(p.dims, [1, 4, 4, 77]); // [N, heads, 2×2 queries, 77 tokens]
  const data = p.data as Float32Array;
  for (let r = 0; r < 16; r++) {
    let sum = 0;
    for (let k = 0; k < 77; k++) sum += data[r * 77 + k];
    assert.ok(Math.abs(sum - 1) < 1e-5);
  }
});

test("a UNet config saved by FateZero / Tune-A-Video (Pseudo3D block names) reads as its 2D counterpart", () => {
  const raw = JSON.parse(fs.readFileSync(path.join(unetDir, "config.json"), "utf8"));
  const to3d: Record<string, string> = {
    CrossAttnDownBlock2D: "CrossAttnDownBlockPseudo3D",
    DownBlock2D: "DownBlockPseudo3D",
    UpBlock2D: "UpBlockPseudo3D",
    CrossAttnUpBlock2D: "CrossAttnUpBlockPseudo3D",
  };
  const tuned = {
    ...raw,
    _class_name: "UNetPseudo3DConditionModel",
    down_block_types: raw.down_block_types.map((t: string) => to3d[t]),
    up_block_types: raw.up_block_types.map((t: string) => to3d[t]),
    mid_block_type: "UNetMidBlockPseudo3DCrossAttn",
    lora: 160,
    SparseCausalAttention_index: ["mid"],
  };
  assert.deepEqual(unetConfig(tuned), config);
  assert.throws(() => unetConfig({ ...tuned, temporal_downsample: true }), /temporal_downsample is not supported/);
  assert.throws(
    () => unetConfig({ ...raw, down_block_types: ["SimpleDownBlock2D", ...raw.down_block_types.slice(1)] }),
    /"SimpleDownBlock2D" is not supported/,
  );
});
