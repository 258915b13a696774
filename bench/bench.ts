// `npm run bench [case…]`: speed and memory, one JSON line per case. Each case runs in its own process so
// that its peak RSS is its own. Nothing here is asserted; numbers are for the README and issue notes.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { sd15ModelSpec } from "../src/networks/modelSpecs";
import { RANDOM_MODEL_VERSION, writeRandomModel } from "../src/networks/randomModel";
import { InversionCache } from "../src/fatezero/inversionCache";
import { invertVideo } from "../src/fatezero/invertVideo";
import { editVideo } from "../src/fatezero/editVideo";
import { DEFAULT_P2P } from "../src/fatezero/editOptions";
import { defaultUnetBuild } from "../src/fatezero/attentionSites";
import { fusedUnet, type UnetCall } from "../src/fatezero/fusedUnet";
import { encodePrompts, loadModel } from "../src/fatezero/loadModel";
import { defaultCacheDir } from "../src/onnx/session";
import { makeSampleClip } from "../src/world/sampleClip";
import { planFromFlags } from "../cli/editCommand";
import { preflight } from "../src/pipeline/preflight";
import { runEditPlan } from "../src/pipeline/runEditPlan";
import { markedCacheFolder } from "../src/util/cacheDir";
import { ffmpegPath } from "../src/video/ffmpeg";
import { longVideoStep, longVideoStepInChild, windowDeviation } from "./longVideoBench";
import { maskPreviewBench } from "./maskPreviewBench";
import { lowPrecisionProbe, unetPrecisionBench } from "./unetPrecisionBench";
import { widgetRoundtripBench } from "./widgetRoundtripBench";
import { worldMainJobBench, worldStudioRerunBench } from "./worldJobBench";

const cacheDir = defaultCacheDir();
const peakRss = () => process.resourceUsage().maxRSS * 1024;
const now = () => performance.now() / 1000;
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/** The real-size SD 1.5 architecture with random weights, generated once into the cache. */
function sd15Folder(): string {
  const dir = path.join(cacheDir, "models", `sd15-random-v${RANDOM_MODEL_VERSION}`);
  if (!fs.existsSync(path.join(dir, "model_index.json"))) {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    writeRandomModel(dir, sd15ModelSpec(), { overwrite: true });
  }
  return dir;
}

const PROMPT = "a red car driving down a curvy road in the countryside";
const TARGET = "a blue car driving down a curvy road in the snow";

/** A cache folder that shares the built graphs and weight copies but starts with no inversion (so it is timed). */
function freshInversionCache(): string {
  const dir = markedCacheFolder(fs.mkdtempSync(path.join(cacheDir, "bench-")), false); // marked while empty: its sections are links
  for (const sub of ["graphs", "weights", "models"]) {
    fs.mkdirSync(path.join(cacheDir, sub), { recursive: true });
    fs.symlinkSync(path.join(cacheDir, sub), path.join(dir, sub));
  }
  return dir;
}

/**
 * `fatezero edit` with these flags in this process (its outputs written into a scratch folder), timed per stage,
 * with the peak RSS after each stage and the preflight's estimate of the peak.
 */
async function editRun(flags: Record<string, string>) {
  const dir = freshInversionCache();
  const { plan, config, model } = planFromFlags({ ...flags, out: path.join(dir, "out.mp4") });
  const { peakBytesEstimate } = await preflight(plan, model, { cacheDir: dir });
  const peakAfter: Record<string, number> = {};
  const t0 = now();
  const cpu0 = process.cpuUsage();
  try {
    const result = await runEditPlan(plan, config.dataset, {
      cacheDir: dir,
      onProgress: (stage, done, total) => {
        if (done === total) peakAfter[stage] = peakRss();
      },
    });
    return {
      ran: `fatezero edit ${Object.entries(flags)
        .map(([k, v]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${v}`)
        .join(" ")}`,
      wallSeconds: now() - t0,
      // On a machine shared with other work, CPU time says more than the wall time.
      cpuSeconds: cpuSeconds(process.cpuUsage(cpu0)),
      loadSeconds: result.seconds.load,
      inversionSeconds: result.seconds.invert,
      editSeconds: result.editSeconds,
      decodeSeconds: result.seconds.decode,
      peakRssByStage: peakAfter,
      peakRssBytes: peakRss(),
      peakBytesEstimate,
      estimateOverPeak: peakBytesEstimate / peakRss(),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A `frames`-frame test-pattern mp4 at `size`² (ffmpeg's testsrc, 30 fps), made once into the cache. */
function testPatternVideo(frames: number, size: number): string {
  const file = path.join(cacheDir, "bench-videos", `testsrc-${frames}x${size}.mp4`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const args = ["-v", "error", "-y", "-f", "lavfi", "-i", `testsrc=size=${size}x${size}:rate=30`, "-frames:v", String(frames)];
  const r = spawnSync(ffmpegPath(), [...args, "-pix_fmt", "yuv420p", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${file}: ${r.stderr}`);
  return file;
}

/** The paper's teaser clip from the shared data (tests and benchmarks read ../shared). */
const CAR_TURN = path.resolve("../shared/data/car-turn");
const TEASER = path.resolve("../shared/data/fatezero-configs/teaser/jeep_watercolor.yaml");

const CASES: Record<string, () => Promise<Record<string, unknown>>> = {
  /** The README's main command (world model, world clip 13): from an empty cache, then again on a warm one. */
  "world-main-job": async () => worldMainJobBench(),
  /** An EditStudio re-run against the cached inversion (world model). */
  "world-studio-rerun": () => worldStudioRerunBench(cacheDir),
  /** One evaluation of the product's UNet graph (fused, video) on SD 1.5's architecture at 512×512, one frame. */
  "unet-sd15-512": async () => {
    const model = await loadModel(sd15Folder(), { cacheDir });
    const rssBeforeUnet = process.memoryUsage().rss;
    const t0 = now();
    const unet = await fusedUnet(model, defaultUnetBuild([64, 64]));
    const loadSeconds = now() - t0;
    const rssAfterLoad = process.memoryUsage().rss;
    const peakRssDuringLoad = peakRss();
    const C = model.dims.latentChannels;
    const sample = new Float32Array(C * 64 * 64).map((_, i) => Math.sin(i)); // [1, C, 1, 64, 64]
    const context = await encodePrompts(model, [PROMPT]); // [1, T, D]
    const call: UnetCall = { sample, dims: [1, C, 1, 64, 64], timestep: 500, context };
    await unet.predict(call); // warm-up: first run allocates
    const t1 = now();
    await unet.predict(call);
    return {
      seconds: now() - t1,
      loadSeconds,
      rssBeforeUnetBytes: rssBeforeUnet,
      rssAfterLoadBytes: rssAfterLoad,
      peakRssDuringLoadBytes: peakRssDuringLoad,
      peakRssBytes: peakRss(),
    };
  },
  /**
   * Issue 37: one fused video UNet evaluation (SD 1.5 architecture, batch 1, 2 frames) in float32 and int8
   * (src/onnx/quantize.ts), interleaved in one process; prints the unet-sd15-<size>-fp32 line, then this one.
   */
  "unet-sd15-256-int8": () => unetPrecisionBench(sd15Folder(), cacheDir, 256),
  "unet-sd15-512-int8": () => unetPrecisionBench(sd15Folder(), cacheDir, 512),
  /**
   * Opening SD 1.5's int8 edit UNet at 256²: the first open in a cache quantizes and stores the int8 model,
   * later ones read it (run the case twice; the second line is the cached open).
   */
  "unet-sd15-256-int8-open": async () => {
    const model = await loadModel(sd15Folder(), { cacheDir });
    const t0 = now();
    const cpu0 = process.cpuUsage();
    await fusedUnet(model, { ...defaultUnetBuild([32, 32]), precision: "int8" });
    return { openSeconds: now() - t0, openCpuSeconds: cpuSeconds(process.cpuUsage(cpu0)), peakRssBytes: peakRss() };
  },
  /** The same at 256² with only the linear layers (MatMul), or only the convolutions, in int8. */
  "unet-sd15-256-int8-matmul": () => unetPrecisionBench(sd15Folder(), cacheDir, 256, "matmul"),
  "unet-sd15-256-int8-conv": () => unetPrecisionBench(sd15Folder(), cacheDir, 256, "conv"),
  /** What the CPU provider runs for float16 / bfloat16 MatMul and Conv, against float32. */
  "ort-cpu-low-precision": lowPrecisionProbe,
  /** Inversion cache size for 8 frames × 512² measured at a few steps, extrapolated to 50 steps. */
  "inversion-cache": async () => {
    const model = await loadModel("tiny", { cacheDir });
    const clip = makeSampleClip(8, 512);
    const dir = fs.mkdtempSync(path.join(cacheDir, "bench-inv-"));
    const bytes: number[] = [];
    for (const steps of [2, 3]) {
      const cache = new InversionCache(dir);
      await invertVideo(model, { frames: clip.frames, frameCount: 8, height: 512, width: 512, prompt: PROMPT, steps }, { cache });
      bytes.push(cache.list().find((e) => e.key.steps === steps)!.bytes);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    const perStep = bytes[1] - bytes[0];
    return {
      bytes: bytes[0] + perStep * (50 - 2),
      measuredSteps: [2, 3],
      measuredBytes: bytes,
      bytesPerStep: perStep,
      frames: 8,
      size: 512,
      steps: 50,
      peakRssBytes: peakRss(),
    };
  },
  /** FateZero on SD 1.5's architecture (random weights): 256², 4 frames, 5 steps. */
  "edit-sd15-arch": async () => {
    const model = await loadModel(sd15Folder(), { cacheDir });
    const clip = makeSampleClip(4, 256);
    const t0 = now();
    const inversion = await invertVideo(model, { frames: clip.frames, frameCount: 4, height: 256, width: 256, prompt: PROMPT, steps: 5 });
    const inversionSeconds = now() - t0;
    const stepTimes: number[] = [];
    let last = now();
    await editVideo(
      model,
      inversion,
      { prompt: "a silver jeep driving down a curvy road in the snow", sourcePrompt: PROMPT, p2p: { ...DEFAULT_P2P } },
      {
        onStep: () => {
          stepTimes.push(now() - last);
          last = now();
        },
      },
    );
    const editStep = stepTimes.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, stepTimes.length - 1);
    return {
      inversionSeconds,
      secondsPerEditStep: editStep,
      firstEditStepSeconds: stepTimes[0],
      frames: 4,
      size: 256,
      steps: 5,
      peakRssBytes: peakRss(),
    };
  },
  /** One inversion step and one edit step of FateZero's default size (512², 8 frames) on SD 1.5's architecture: does it fit? */
  "edit-sd15-512-step": async () => {
    const model = await loadModel(sd15Folder(), { cacheDir });
    const clip = makeSampleClip(8, 512);
    const t0 = now();
    const inversion = await invertVideo(model, { frames: clip.frames, frameCount: 8, height: 512, width: 512, prompt: PROMPT, steps: 1 });
    const t1 = now();
    await editVideo(model, inversion, {
      prompt: "a silver jeep driving down a curvy road in the snow",
      sourcePrompt: PROMPT,
      p2p: { ...DEFAULT_P2P },
    });
    return { inversionStepSecondsWithBuild: t1 - t0, editStepSeconds: now() - t1, frames: 8, size: 512, peakRssBytes: peakRss() };
  },
  /** 48 frames at 256², one step each, in windows; and the same case at 8 frames (whole) in its own process. */
  "edit-long-256": async () => {
    const long = await longVideoStep(sd15Folder(), cacheDir, 48, 256);
    const eight = longVideoStepInChild(__filename, 8, 256);
    return {
      ...long,
      peakRssBytes8Frames: eight.peakRssBytes,
      editSeconds8Frames: eight.editSeconds,
      peakRatio: long.peakRssBytes / Number(eight.peakRssBytes),
    };
  },
  /** 24 frames at 512² (where FateZero runs out of memory on a 48 GB GPU), one step each, in windows. */
  "edit-long-512": () => longVideoStep(sd15Folder(), cacheDir, 24, 512),
  /** Windows against the whole clip on the world model: 8 frames in windows of 4, 2 and 1; 16 frames in the default 8. */
  "frame-windows-deviation": async () => ({
    runs: [await windowDeviation(cacheDir, 8, [4, 2, 1]), await windowDeviation(cacheDir, 16, [8])],
  }),
  /** FateZero's teaser config (watercolor jeep, 2 edits) on SD 1.5's architecture at 256², 4 frames, 10 steps: the official code's comparison. */
  "edit-sd15-teaser": () => editRun({ config: TEASER, model: sd15Folder(), video: CAR_TURN, size: "256", frames: "4", steps: "10" }),
  /** The same job with the int8 UNet (--precision int8); its quantized graph is cached, so run it twice to time the second. */
  "edit-sd15-teaser-int8": () =>
    editRun({ config: TEASER, model: sd15Folder(), video: CAR_TURN, size: "256", frames: "4", steps: "10", precision: "int8" }),
  /** A long clip, every frame of it (--frames -1), on the world model: 1800 frames of a 64² video, 5 steps, with the outputs. */
  "edit-long-clip-64": () =>
    editRun({ video: testPatternVideo(1800, 64), source: PROMPT, target: TARGET, frames: "-1", size: "64", steps: "5" }),
  /** The same at 20 steps (the world model's own) and 450 frames: the per-step share of what a long clip keeps. */
  "edit-long-clip-64-20": () =>
    editRun({ video: testPatternVideo(450, 64), source: PROMPT, target: TARGET, frames: "-1", size: "64", steps: "20" }),
  /** Kernel-side MaskTuner: threshold change → new mask sent, 8 frames at 512². */
  "mask-preview": () => maskPreviewBench(cacheDir, PROMPT),
  /** Kernel → browser: a FrameScrubber's new clip until the image has loaded (live notebook, Chromium). */
  "widget-frame-roundtrip": widgetRoundtripBench,
};

async function runCase(name: string): Promise<void> {
  const result = await CASES[name]();
  console.log(JSON.stringify({ bench: name, ...result, ort: ort.env.versions.node }));
}

async function main(argv: string[]): Promise<void> {
  const long = argv.indexOf("--long");
  if (long >= 0)
    return console.log(JSON.stringify(await longVideoStep(sd15Folder(), cacheDir, Number(argv[long + 1]), Number(argv[long + 2]))));
  const i = argv.indexOf("--case");
  if (i >= 0) return runCase(argv[i + 1]);
  const names = argv.length > 0 ? argv : Object.keys(CASES);
  for (const name of names) {
    if (!CASES[name]) {
      console.error(`unknown bench "${name}"; cases: ${Object.keys(CASES).join(", ")}`);
      process.exitCode = 2;
      return;
    }
    const r = spawnSync(process.execPath, [__filename, "--case", name], { stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) console.log(JSON.stringify({ bench: name, error: `exit ${r.status}` }));
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
