// Devices: the flag and variable are checked, a GPU provider that is missing is bad input saying what to
// install (this machine has no GPU: a machine with one answers the probe and the run goes on), and the
// GPU-shaped graph (self-attention of all heads at once) computes what the CPU-shaped one does.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { WeightSet } from "../src/checkpoint/weightSet";
import { unetConfig } from "../src/networks/configs";
import { KEY_FRAMES_INPUT, keyFramesFeed } from "../src/networks/frameLayout";
import { buildUnetGraph } from "../src/networks/unet";
import { deviceFromEnvironment, parseDevice } from "../src/onnx/device";
import { openSession } from "../src/onnx/session";
import { CheckpointWeights } from "../src/onnx/weightSource";
import { FIXTURE, tempDir } from "./sharedData";

const BIN = path.resolve("bin/fatezero.js");
const run = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, FATEZERO_CACHE: tempDir("device-cache") } });

test("devices are named by the flag or FATEZERO_DEVICE; others are refused", () => {
  assert.equal(parseDevice("webgpu"), "webgpu");
  assert.throws(() => parseDevice("tpu"), /--device: unknown device "tpu"; one of: cpu, webgpu, cuda/);
  const saved = process.env.FATEZERO_DEVICE;
  try {
    process.env.FATEZERO_DEVICE = "cuda";
    assert.equal(deviceFromEnvironment(), "cuda");
    process.env.FATEZERO_DEVICE = "gpu";
    assert.throws(() => deviceFromEnvironment(), /FATEZERO_DEVICE: unknown device "gpu"/);
    delete process.env.FATEZERO_DEVICE;
    assert.equal(deviceFromEnvironment(), "cpu");
  } finally {
    if (saved === undefined) delete process.env.FATEZERO_DEVICE;
    else process.env.FATEZERO_DEVICE = saved;
  }
});

test("--device webgpu without a WebGPU adapter, and --device cuda without the CUDA provider, exit 2 saying what is missing", () => {
  const webgpu = run("edit", "--model", "tiny", "--target", "a car", "--device", "webgpu", "--dry-run");
  const cudaLib = path.join(
    path.dirname(require.resolve("onnxruntime-node/package.json")),
    "bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so",
  );
  if (webgpu.status === 0) assert.match(webgpu.stderr, /device: GPU through ONNX Runtime's WebGPU provider/);
  else {
    assert.equal(webgpu.status, 2, webgpu.stderr);
    assert.match(webgpu.stderr, /--device webgpu: ONNX Runtime cannot run on it \(.*adapter.*\); WebGPU needs a GPU with a Vulkan driver/);
    assert.doesNotMatch(webgpu.stderr, /\n\s+at /);
  }
  if (!fs.existsSync(cudaLib)) {
    const cuda = run("edit", "--model", "tiny", "--target", "a car", "--device", "cuda", "--dry-run");
    assert.equal(cuda.status, 2, cuda.stderr);
    assert.match(cuda.stderr, /--device cuda: onnxruntime-node's CUDA provider is not installed.*ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/);
  }
  const cpu = run("edit", "--model", "tiny", "--target", "a car", "--device", "cpu", "--dry-run");
  assert.equal(cpu.status, 0, cpu.stderr);
});

test("the GPU-shaped UNet (all heads at once) computes what the CPU-shaped one (head by head) does", async () => {
  const cacheDir = tempDir("device-graph");
  const unetDir = path.join(FIXTURE, "model/unet");
  const config = unetConfig(JSON.parse(fs.readFileSync(path.join(unetDir, "config.json"), "utf8")));
  const weights = WeightSet.open([path.join(unetDir, "diffusion_pytorch_model.safetensors")]);
  const feeds = {
    sample: new ort.Tensor(
      "float32",
      Float32Array.from({ length: 4 * 3 * 16 * 16 }, (_, i) => Math.cos(i * 0.11)),
      [1, 4, 3, 16, 16],
    ),
    timestep: new ort.Tensor("float32", Float32Array.of(401), [1]),
    encoder_hidden_states: new ort.Tensor(
      "float32",
      Float32Array.from({ length: 77 * 32 }, (_, i) => Math.sin(i * 0.37)),
      [1, 77, 32],
    ),
    [KEY_FRAMES_INPUT]: keyFramesFeed([-1, "first"], 3),
  };
  const predict = async (perHeadSelfAttention: boolean) => {
    const source = new CheckpointWeights("unet", weights);
    const graph = buildUnetGraph(config, source, { video: { selectors: [-1, "first"], leastScChannel: 0 }, perHeadSelfAttention });
    const session = await openSession(graph, source.linkedFiles(), { cacheDir });
    return (await session.run(feeds)).noise_pred.data as Float32Array;
  };
  const [byHead, allHeads] = [await predict(true), await predict(false)];
  let diff = 0;
  for (let i = 0; i < byHead.length; i++) diff = Math.max(diff, Math.abs(byHead[i] - allHeads[i]));
  assert.ok(diff < 1e-5, `max difference ${diff}`);
});
