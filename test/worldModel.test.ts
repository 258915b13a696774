// The world model: the training program's smoke run (a 2-step miniature) writes a diffusers folder that the
// runtime loads and reproduces PyTorch's outputs from; the committed models/world/ does the same with its
// stored probe. The training tests need the project's Python environment (python/setup.sh: torch, numpy).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { attentionSites, defaultUnetBuild } from "../src/fatezero/attentionSites";
import { SD_LATENT_SCALE, unetConfig, vaeConfig, vaeFactor } from "../src/networks/configs";
import { vaeJson } from "../src/networks/modelSpecs";
import { SD_SCHEDULER_CONFIG } from "../src/networks/randomModel";
import { DdimScheduler } from "../src/scheduler/ddim";
import { supervisedLayers, TRAINING_DATA_VERSION, type TrainingDataMeta } from "../src/world/trainingData";
import { WORLD_SIZE } from "../src/world/worldClip";
import { GPU_PLAN_VAE_WIDTH, miniatureWorldModelSpec, WORLD_MODEL_DIR, worldModelSpec } from "../src/world/worldModel";
import { BIN } from "./support/cliRun";
import { reproduceProbe } from "./support/modelProbe";
import { PYTHON, pythonMissing, ROOT } from "./support/pythonEnv";
import { tempDir } from "./sharedData";

const torchMissing = pythonMissing(["torch", "numpy"]);
const pythonWithTorch = torchMissing ? undefined : PYTHON;

/** Tolerance of a recomputed output: ONNX Runtime vs PyTorch on the same fp16-stored weights. */
function assertClose(results: Record<string, { maxAbsErr: number; maxAbs: number }>): void {
  for (const [name, r] of Object.entries(results))
    assert.ok(r.maxAbsErr <= 1e-4 + 3e-4 * r.maxAbs, `${name}: max abs error ${r.maxAbsErr} (values up to ${r.maxAbs})`);
}

/** The runtime's attention layers of `spec`'s UNet at the training frames' latent size. */
function worldSites(spec: ReturnType<typeof worldModelSpec>) {
  const side = WORLD_SIZE / vaeFactor(vaeConfig(spec.vae));
  return attentionSites(unetConfig(spec.unet), defaultUnetBuild([side, side]));
}

/** A miniature export of one clip into a new work folder (what train/run.sh makes first). */
function exportMiniature(tag: string): { work: string; meta: TrainingDataMeta } {
  const work = path.join(tempDir(tag), "world");
  const r = spawnSync(process.execPath, [BIN, "world-training-data", "--out", work, "--clips", "1", "--miniature"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return { work, meta: JSON.parse(fs.readFileSync(path.join(work, "data", "meta.json"), "utf8")) };
}

test("an export's meta.json gives every array's file, dtype and shape, and the attention layers the trainer supervises", () => {
  const { work, meta } = exportMiniature("export-meta");
  const spec = miniatureWorldModelSpec();
  const side = WORLD_SIZE / vaeFactor(vaeConfig(spec.vae));
  assert.equal(meta.version, TRAINING_DATA_VERSION);
  assert.deepEqual(meta.arrays.vehicle.shape, [meta.frames, side, side], "coverage at the skeleton VAE's latent size");
  for (const a of Object.values(meta.arrays)) {
    const bytes = a.shape.reduce((n, d) => n * d, a.dtype === "int32" ? 4 : 1);
    assert.equal(fs.statSync(path.join(work, "data", a.file)).size, bytes, `${a.file}: ${a.dtype} ${JSON.stringify(a.shape)}`);
  }
  const sites = worldSites(spec);
  assert.deepEqual(meta.attentionLayers, supervisedLayers(sites));
  const supervised = new Set(meta.attentionLayers.map((l) => l.module));
  for (const l of sites.filter((s) => s.maskSource)) assert.ok(supervised.has(l.module), `the blend mask's ${l.module} is supervised`);
  for (const l of meta.attentionLayers) {
    const site = sites.find((s) => s.module === l.module)!;
    assert.ok(site.kind === "cross" && site.controlled, `${l.module} is a controlled cross-attention layer`);
  }
  const vae = JSON.parse(fs.readFileSync(path.join(work, "skeleton", "vae", "config.json"), "utf8"));
  assert.equal(vae.scaling_factor, SD_LATENT_SCALE, "the skeleton states the latent scale the runtime and the trainer read");
});

test("the world model's attention term supervises the layers the committed model was trained on", () => {
  const expected = [
    ...["down_blocks.0", "down_blocks.1"].flatMap((b) => [0, 1].map((j) => `${b}.attentions.${j}.transformer_blocks.0.attn2`)),
    ...["up_blocks.2", "up_blocks.3"].flatMap((b) => [0, 1, 2].map((j) => `${b}.attentions.${j}.transformer_blocks.0.attn2`)),
  ];
  assert.deepEqual(
    supervisedLayers(worldSites(worldModelSpec())).map((l) => l.module),
    expected,
  );
});

test("the trainer reads the runtime's noise schedule, latent scale and VAE factor from the configs", { skip: torchMissing }, () => {
  const schedulers = [
    SD_SCHEDULER_CONFIG,
    { beta_schedule: "linear" },
    { beta_schedule: "squaredcos_cap_v2", num_train_timesteps: 500 },
    { num_train_timesteps: 4, trained_betas: [0.001, 0.01, 0.1, 0.5], beta_schedule: "scaled_linear" },
  ];
  const sd = vaeJson({ diffusersVersion: "0.11.1", blocks: [8, 8, 8, 8], layers: 1, groups: 4, sampleSize: 128 });
  const { scaling_factor: _, ...unstated } = sd;
  const vaes = [
    sd,
    unstated,
    {
      ...sd,
      scaling_factor: 0.13025,
      block_out_channels: [8, 8, 8],
      down_block_types: ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
      up_block_types: ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
    },
  ];
  const script = [
    "import json, sys",
    "sys.path.insert(0, 'train')",
    "from model_folder import alphas_cumprod, latent_scale, vae_factor",
    "schedulers, vaes = json.load(sys.stdin)",
    "print(json.dumps([[alphas_cumprod(s).tolist() for s in schedulers], [[latent_scale(v), vae_factor(v)] for v in vaes]]))",
  ].join("\n");
  const r = spawnSync(pythonWithTorch!, ["-c", script], { cwd: ROOT, input: JSON.stringify([schedulers, vaes]), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const [cumprods, vaeFacts] = JSON.parse(r.stdout) as [number[][], [number, number][]];
  schedulers.forEach((s, i) => {
    const runtime = new DdimScheduler(s).alphasCumprod;
    assert.equal(cumprods[i].length, runtime.length, `${JSON.stringify(s)}: timesteps`);
    // The trainer computes β in double, the runtime in float32: an ulp or two apart.
    const worst = Math.max(...cumprods[i].map((a, t) => Math.abs(a - runtime[t]) / Math.max(runtime[t], 1e-3)));
    assert.ok(worst < 1e-5, `${JSON.stringify(s)}: alphas_cumprod differ by ${worst} (relative)`);
  });
  vaes.forEach((v, i) => {
    const c = vaeConfig(v);
    assert.deepEqual(vaeFacts[i], [c.scalingFactor, vaeFactor(c)], `vae config ${i}`);
  });
});

test("training refuses an export of another version, and attention layers its UNet lacks, naming them", { skip: torchMissing }, () => {
  const { work, meta } = exportMiniature("export-refused");
  const train = () =>
    spawnSync("bash", ["train/run.sh", "--plan", "smoke"], {
      encoding: "utf8",
      env: { ...process.env, FATEZERO_TRAIN_DIR: work, FATEZERO_PYTHON: pythonWithTorch },
      timeout: 600_000,
    });
  const metaPath = path.join(work, "data", "meta.json");
  fs.writeFileSync(metaPath, JSON.stringify({ ...meta, version: TRAINING_DATA_VERSION - 1 }));
  const old = train();
  assert.equal(old.status, 2, old.stderr + old.stdout);
  assert.match(
    old.stderr,
    new RegExp(`export version ${TRAINING_DATA_VERSION - 1}, this program reads ${TRAINING_DATA_VERSION}; delete .*data and run again`),
  );
  const unknown = "up_blocks.9.attentions.0.transformer_blocks.0.attn2";
  fs.writeFileSync(
    metaPath,
    JSON.stringify({ ...meta, attentionLayers: [...meta.attentionLayers, { module: unknown, height: 16, width: 16 }] }),
  );
  const lacking = train();
  assert.equal(lacking.status, 2, lacking.stderr + lacking.stdout);
  assert.match(lacking.stderr, new RegExp(`attentionLayers name cross-attention layers the UNet lacks: ${unknown.replace(/\./g, "\\.")}`));
  assert.doesNotMatch(lacking.stdout, /^(vae|denoiser|refine) +\d/m, "no training step ran");
});

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
