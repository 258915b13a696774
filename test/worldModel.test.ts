// The world model: the training program's smoke run (a 2-step miniature) writes a diffusers folder that the
// runtime loads and reproduces PyTorch's outputs from; the committed models/world/ does the same with its
// stored probe. The training tests need the project's Python environment (python/setup.sh: torch, numpy).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { GPU_PLAN_VAE_WIDTH, miniatureWorldModelSpec, WORLD_MODEL_DIR } from "../src/world/worldModel";
import { reproduceProbe } from "./support/modelProbe";
import { PYTHON, pythonMissing } from "./support/pythonEnv";
import { tempDir } from "./sharedData";

const torchMissing = pythonMissing(["torch", "numpy"]);
const pythonWithTorch = torchMissing ? undefined : PYTHON;

/** Tolerance of a recomputed output: ONNX Runtime vs PyTorch on the same fp16-stored weights. */
function assertClose(results: Record<string, { maxAbsErr: number; maxAbs: number }>): void {
  for (const [name, r] of Object.entries(results))
    assert.ok(r.maxAbsErr <= 1e-4 + 3e-4 * r.maxAbs, `${name}: max abs error ${r.maxAbsErr} (values up to ${r.maxAbs})`);
}

test("the training program's smoke run writes a model the runtime loads and reproduces", { skip: torchMissing }, async () => {
  const work = tempDir("train-smoke");
  const r = spawnSync("bash", ["train/run.sh", "--plan", "smoke"], {
    encoding: "utf8",
    env: { ...process.env, FATEZERO_TRAIN_DIR: work, FATEZERO_PYTHON: pythonWithTorch },
    timeout: 600_000,
  });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  for (const stage of ["vae", "denoiser", "refine"])
    assert.match(r.stdout, new RegExp(`^${stage} +2/2 .* [\\d.]+ samples/s, elapsed .* eta `, "m"), `a progress line of ${stage}`);
  assert.match(r.stdout, /^machine: \d+ threads, fp32 matmul \d+ GFLOP\/s per core/m, "the GEMM rate measured before training");
  const report = JSON.parse(/^report (.*)$/m.exec(r.stdout)![1]);
  assert.equal(report.plan, "smoke");
  assert.ok(report.machine.fp32Gflops >= 30, `fp32 GEMM rate ${report.machine.fp32Gflops} GFLOP/s`);
  assert.equal(report.machine.ompWaitPolicy, "passive");
  assert.equal(report.refine.samples, 4, "2 refine steps of batch 2");
  assert.ok(report.refine.samplesPerSecond > 0 && report.cpuHoursThisRun >= 0);
  assert.equal(report.denoiserSteps, 2);
  assert.equal(report.refineSteps, 2);
  // One of the miniature's two clips is held out, so the report measures how far captions steer the model.
  assert.equal(report.trainingClips, 1);
  for (const t of ["700", "900"]) {
    const share = report.heldOutColourSteering[t];
    assert.ok(share >= 0 && share <= 1, `heldOutColourSteering at t = ${t}: ${share}`);
  }
  const model = path.join(work, "model");
  for (const part of [
    "text_encoder/model.safetensors",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
    "tokenizer/vocab.json",
    "scheduler/scheduler_config.json",
  ]) {
    assert.ok(fs.existsSync(path.join(model, part)), part);
  }
  assertClose(await reproduceProbe(model, path.join(work, "model-probe.safetensors"), tempDir("train-smoke-cache")));
  // A second run resumes from the checkpoints and ends with the same weights.
  const weights = fs.readFileSync(path.join(model, "unet/diffusion_pytorch_model.safetensors"));
  const again = spawnSync("bash", ["train/run.sh", "--plan", "smoke"], {
    encoding: "utf8",
    env: { ...process.env, FATEZERO_TRAIN_DIR: work, FATEZERO_PYTHON: pythonWithTorch },
    timeout: 600_000,
  });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(fs.readFileSync(path.join(model, "unet/diffusion_pytorch_model.safetensors")), weights);
  // --base: the refine stage alone, from a folder's weights; another base for the same work folder is refused.
  const refineWork = tempDir("train-refine");
  const trainRefine = (...args: string[]) =>
    spawnSync("bash", ["train/run.sh", "--plan", "smoke", ...args], {
      encoding: "utf8",
      env: { ...process.env, FATEZERO_TRAIN_DIR: refineWork, FATEZERO_PYTHON: pythonWithTorch },
      timeout: 600_000,
    });
  const refined = trainRefine("--base", model);
  assert.equal(refined.status, 0, refined.stderr + refined.stdout);
  assert.doesNotMatch(refined.stdout, /^(vae|denoiser) +\d/m, "the earlier stages are not trained again");
  const refinedReport = JSON.parse(/^report (.*)$/m.exec(refined.stdout)![1]);
  const baseUnet = fs.readFileSync(path.join(model, "unet/diffusion_pytorch_model.safetensors"));
  assert.deepEqual(refinedReport.base, { source: "--base", unetSha256: crypto.createHash("sha256").update(baseUnet).digest("hex") });
  assert.equal(refinedReport.denoiserSteps, 2, "the base's history is carried into the report");
  const otherBase = trainRefine("--base", path.join(refineWork, "model"));
  assert.equal(otherBase.status, 2, otherBase.stderr);
  assert.match(otherBase.stderr, /holds other weights/);
  const unknown = trainRefine("--steps", "3");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown argument --steps/);
});

test("training refuses a BLAS slower than its floor before any step, naming the fix", { skip: torchMissing }, () => {
  const r = spawnSync("bash", ["train/run.sh", "--plan", "smoke"], {
    encoding: "utf8",
    env: {
      ...process.env,
      FATEZERO_TRAIN_DIR: tempDir("train-slow-blas"),
      FATEZERO_PYTHON: pythonWithTorch,
      FATEZERO_TRAIN_MIN_GFLOPS: "1e9",
    },
    timeout: 600_000,
  });
  assert.equal(r.status, 2, r.stderr + r.stdout);
  assert.match(
    r.stderr,
    /^train:world: PyTorch multiplies fp32 matrices at [\d.]+ GFLOP\/s per core here, below 1e\+09 .*python\/setup\.sh/m,
  );
  assert.doesNotMatch(r.stdout, /^(vae|denoiser|refine) +\d/m, "no training step ran");
});

test("training refuses an --out it did not write before any step, and leaves it as it was", { skip: torchMissing }, () => {
  const mine = tempDir("train-out-mine");
  fs.writeFileSync(path.join(mine, "thesis.tex"), "mine");
  const link = path.join(tempDir("train-out-link"), "model");
  fs.symlinkSync(mine, link);
  for (const [out, why] of [
    [mine, /is not a model folder this program wrote/],
    [link, /is a link; give the folder itself/],
  ] as const) {
    const r = spawnSync("bash", ["train/run.sh", "--plan", "smoke", "--out", out], {
      encoding: "utf8",
      env: { ...process.env, FATEZERO_TRAIN_DIR: tempDir("train-out-work"), FATEZERO_PYTHON: pythonWithTorch },
      timeout: 600_000,
    });
    assert.equal(r.status, 2, r.stderr + r.stdout);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stdout, /^(vae|denoiser|refine) +\d/m, "no training step ran");
  }
  assert.deepEqual(fs.readdirSync(mine), ["thesis.tex"]);
  assert.equal(fs.readFileSync(path.join(mine, "thesis.tex"), "utf8"), "mine");
  assert.ok(fs.lstatSync(link).isSymbolicLink());
});

test(
  "the GPU plan's package: packed here, trained by train/gpu.py run (here on the CPU, seconds of budget), adopted as a folder the runtime reproduces",
  { skip: torchMissing },
  async () => {
    const root = tempDir("train-gpu");
    const pack = path.join(root, "pack");
    const env = { ...process.env, FATEZERO_TRAIN_DIR: path.join(root, "work"), FATEZERO_GPU_PACK: pack, FATEZERO_PYTHON: pythonWithTorch };
    const packed = spawnSync("bash", ["train/run.sh", "--plan", "gpu-smoke", "--pack-gpu"], { encoding: "utf8", env, timeout: 600_000 });
    assert.equal(packed.status, 0, packed.stderr + packed.stdout);
    assert.match(packed.stdout, /packed .* python3 train\/gpu\.py run --pack /);
    const gpu = (...args: string[]) => spawnSync(pythonWithTorch!, ["train/gpu.py", ...args], { encoding: "utf8", timeout: 600_000 });
    const out = path.join(root, "out");
    const ran = gpu("run", "--pack", pack, "--out", out, "--plan", "gpu-smoke", "--device", "cpu");
    assert.equal(ran.status, 0, ran.stderr + ran.stdout);
    // The device tool brings back at most 8 flat files.
    assert.deepEqual(fs.readdirSync(out).sort(), [
      "model_index.json",
      "probe.safetensors",
      "text_encoder.safetensors",
      "train.log",
      "unet.safetensors",
      "vae.safetensors",
    ]);
    const report = JSON.parse(/^report (.*)$/m.exec(fs.readFileSync(path.join(out, "train.log"), "utf8"))![1]);
    assert.equal(report.plan, "gpu-smoke");
    // Stages end by their time budget: steps run until it is spent, and the report counts them.
    assert.ok(report.vaeSteps >= 1 && report.vaeSteps < 100000, `vaeSteps ${report.vaeSteps}`);
    assert.ok(report.denoiserSteps >= 1 && report.denoiserSteps < 100000, `denoiserSteps ${report.denoiserSteps}`);
    assert.equal(report.refineSteps, 0);
    assert.ok("weighted_mse" in report.finalLosses.denoiser, "the gpu plan weights the ε error from the start");
    const model = path.join(root, "model");
    const adopted = gpu("adopt", out, "--skeleton", path.join(root, "work", "skeleton"), "--dest", model);
    assert.equal(adopted.status, 0, adopted.stderr + adopted.stdout);
    // The gpu plan's VAE is wider than the CPU plan's.
    const vae = JSON.parse(fs.readFileSync(path.join(model, "vae", "config.json"), "utf8"));
    const narrow = miniatureWorldModelSpec().vae.block_out_channels as number[];
    assert.deepEqual(
      vae.block_out_channels,
      narrow.map((c) => c * GPU_PLAN_VAE_WIDTH),
    );
    assertClose(await reproduceProbe(model, `${model}-probe.safetensors`, tempDir("train-gpu-cache")));
    // Files of another architecture are refused, and nothing is written.
    const miniature = path.join(root, "other");
    const refused = gpu("adopt", out, "--skeleton", path.join(WORLD_MODEL_DIR), "--dest", miniature);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /another architecture/);
    assert.ok(!fs.existsSync(miniature));
    // The gpu plans train only on a GPU machine, and only they are packed for one.
    const trainHere = spawnSync("bash", ["train/run.sh", "--plan", "gpu"], { encoding: "utf8", env });
    assert.equal(trainHere.status, 2);
    assert.match(trainHere.stderr, /--plan gpu trains on a lent GPU machine/);
    const packSmoke = spawnSync("bash", ["train/run.sh", "--plan", "smoke", "--pack-gpu"], { encoding: "utf8", env });
    assert.equal(packSmoke.status, 2);
    assert.match(packSmoke.stderr, /--pack-gpu packs the gpu or gpu-smoke plan/);
    const packBase = spawnSync("bash", ["train/run.sh", "--plan", "gpu-smoke", "--pack-gpu", "--base", model], { encoding: "utf8", env });
    assert.equal(packBase.status, 2);
    assert.match(packBase.stderr, /the gpu plan trains from scratch/);
    const noCuda = spawnSync(pythonWithTorch!, ["-c", "import torch; assert not torch.cuda.is_available()"]).status === 0;
    if (noCuda) {
      const cuda = gpu("run", "--pack", pack, "--out", path.join(root, "cuda"), "--plan", "gpu-smoke");
      assert.equal(cuda.status, 2);
      assert.match(cuda.stdout + cuda.stderr, /--device cuda: this PyTorch sees no CUDA device/);
    }
  },
);

test("the committed world model loads through the diffusers path and reproduces its stored probe", async () => {
  assert.ok(fs.existsSync(path.join(WORLD_MODEL_DIR, "model_index.json")), `${WORLD_MODEL_DIR} is committed`);
  const index = JSON.parse(fs.readFileSync(path.join(WORLD_MODEL_DIR, "model_index.json"), "utf8"));
  assert.equal(index._class_name, "StableDiffusionPipeline");
  assertClose(await reproduceProbe(WORLD_MODEL_DIR, `${WORLD_MODEL_DIR}-probe.safetensors`, tempDir("world-model-cache")));
});
