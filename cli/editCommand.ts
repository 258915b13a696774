// `fatezero edit`: FateZero's YAML configs, or the flag form, resolved to a plan; `--dry-run` prints it.
import * as fs from "node:fs";
import { resolveEditPlan, type EditPlan, type PlanOverrides } from "../src/config/editPlan";
import { defaultFatezeroConfig, loadFatezeroConfig, type FatezeroConfig } from "../src/config/fatezeroConfig";
import { MAX_FRAMES, MAX_GUIDANCE_SCALE, MAX_INVERSION_ITERATIONS, MAX_SIZE, MAX_STEPS } from "../src/config/limits";
import { formatEditPlan } from "../src/config/planText";
import { NEGATIVE_PROMPTS, UNET_PRECISIONS } from "../src/fatezero/editOptions";
import { modelFacts, type ModelFacts } from "../src/fatezero/loadModel";
import { checkDevice, chosenDevice } from "../src/onnx/device";
import { defaultCacheDir } from "../src/onnx/session";
import { checkFolderPath } from "../src/util/folderOutput";
import { preflight } from "../src/pipeline/preflight";
import { runEditPlan } from "../src/pipeline/runEditPlan";
import { countSourceFrames } from "../src/video/readVideo";
import { SAMPLE_CLIP_PROMPT, SAMPLE_CLIP_SOURCE } from "../src/world/sampleClip";
import { DEFAULT_WORLD_VIDEO, worldVideoSeed } from "../src/world/worldClip";
import { oneOf } from "../src/world/vocabulary";
import { WORLD_STEPS } from "../src/world/worldModel";
import { integerFlag, numberFlag, UsageError } from "./flagValues";
import { progressReporter } from "./progress";

/** Flags of `fatezero edit`. */
export interface EditFlags {
  config?: string;
  video?: string;
  source?: string;
  target?: string;
  blendWords?: string[];
  threshold?: string;
  steps?: string;
  guidance?: string;
  negativePrompt?: string;
  inversionIterations?: string;
  precision?: string;
  frames?: string;
  frameChunk?: string;
  size?: string;
  model?: string;
  modelConfig?: string;
  ema?: boolean;
  out?: string;
  cacheDir?: string;
  dryRun?: boolean;
  json?: boolean;
  ignoreMemoryLimit?: boolean;
  device?: string;
}

/**
 * What the embedded models run at when the flags say nothing: the world model in seconds (at its training size,
 * as every model folder runs by default), the random tiny model above its 128².
 */
const EMBEDDED_DEFAULTS: Record<string, { size?: number; steps: number }> = {
  world: { steps: WORLD_STEPS },
  tiny: { size: 256, steps: 20 },
};

/** Resolve flags (and the config they name) to a plan. */
export function planFromFlags(flags: EditFlags): { plan: EditPlan; config: FatezeroConfig; model: ModelFacts } {
  if (flags.config && !fs.existsSync(flags.config)) throw new UsageError(`--config ${flags.config}: no such file`);
  if (flags.threshold !== undefined && !flags.blendWords)
    throw new UsageError("--threshold needs --blend-words (the threshold applies to their mask)");
  let config: FatezeroConfig;
  if (flags.config) config = loadFatezeroConfig(flags.config);
  else {
    if (!flags.target) throw new UsageError('give --target "…" (the edit prompt), or --config file.yaml');
    // A world clip's caption is known: world:<seed> renders the sample attributes, as the default video does.
    if (flags.video && !flags.source && worldVideoSeed(flags.video) === undefined)
      throw new UsageError('--video needs --source "…" (a prompt describing the video)');
    config = defaultFatezeroConfig(flags.source ?? SAMPLE_CLIP_PROMPT);
  }
  const model = flags.model ?? (flags.config ? undefined : "world");
  const embedded = EMBEDDED_DEFAULTS[model ?? config.pretrainedModelPath ?? ""];
  const facts = modelFacts(model ?? config.pretrainedModelPath ?? "world", { modelConfig: flags.modelConfig, ema: flags.ema });
  // The flag form runs the model's own loop defaults (a world model's negative prompt); a YAML config states its own.
  const loopDefaults = flags.config ? {} : facts.editDefaults;
  const overrides: PlanOverrides = {
    video: flags.video ?? (flags.config ? undefined : DEFAULT_WORLD_VIDEO),
    model,
    modelConfig: flags.modelConfig,
    ema: flags.ema,
    size: parseSize(flags.size) ?? (config.dataset.imageSize === undefined ? embedded?.size : undefined),
    frames:
      flags.frames?.trim() === "-1"
        ? allFrames(flags.video ?? config.dataset.path, config.dataset)
        : integerFlag("frames", flags.frames, 1, MAX_FRAMES),
    frameChunk: integerFlag("frame-chunk", flags.frameChunk, 1, MAX_FRAMES),
    steps: integerFlag("steps", flags.steps, 1, MAX_STEPS) ?? (embedded && !flags.config ? embedded.steps : undefined),
    guidanceScale:
      flags.guidance === undefined ? loopDefaults.guidanceScale : numberFlag("guidance", flags.guidance, 0, MAX_GUIDANCE_SCALE),
    negativePrompt:
      flags.negativePrompt === undefined ? loopDefaults.negativePrompt : oneOf("--negative-prompt", flags.negativePrompt, NEGATIVE_PROMPTS),
    inversionIterations: integerFlag("inversion-iterations", flags.inversionIterations, 0, MAX_INVERSION_ITERATIONS),
    unetPrecision: flags.precision === undefined ? undefined : oneOf("--precision", flags.precision, UNET_PRECISIONS),
    source: flags.source,
    target: flags.target,
    blendWords: flags.blendWords,
    threshold: flags.threshold === undefined ? undefined : numberFlag("threshold", flags.threshold),
    out: flags.out,
  };
  const plan = asUsageError(() => resolveEditPlan(config, overrides, facts));
  // Words given on the command line must be in the prompt; YAML configs keep FateZero's silent skipping.
  for (const e of plan.edits) {
    const missing = flags.blendWords ? (e.blend?.sourceWords ?? []).filter((w) => !w.inPrompt) : [];
    if (missing.length > 0) {
      throw new UsageError(
        `--blend-words: ${missing.map((w) => `"${w.word}"`).join(", ")} not in the source prompt "${e.sourcePrompt}" ` +
          "(words are matched exactly, split on spaces)",
      );
    }
  }
  return { plan, config, model: facts };
}

/** Run `fatezero edit`; returns the process exit code. */
export async function editCommand(flags: EditFlags): Promise<number> {
  const { plan, config, model } = planFromFlags(flags);
  for (const w of plan.warnings) console.error(`warning: ${w}`);
  const { device, named } = chosenDevice(flags.device);
  checkDevice(device, named);
  if (flags.cacheDir !== undefined) checkFolderPath(flags.cacheDir, "--cache-dir");
  else if (process.env.FATEZERO_CACHE) checkFolderPath(process.env.FATEZERO_CACHE, "FATEZERO_CACHE");
  const cacheDir = flags.cacheDir ?? defaultCacheDir();
  const checked = await preflight(plan, model, {
    cacheDir,
    inputs: flags.config ? [flags.config] : [],
    ignoreMemoryLimit: flags.ignoreMemoryLimit,
  });
  const gb = (b: number) => (b / 2 ** 30).toFixed(1);
  console.error(`memory: about ${gb(checked.peakBytesEstimate)} GB at the peak (this machine: ${gb(checked.machineBytes)} GB)`);
  if (flags.dryRun) {
    console.log(flags.json ? JSON.stringify(plan, null, 2) : formatEditPlan(plan));
    return 0;
  }
  if (!plan.out) throw new UsageError("give --out (a .mp4/.gif file, or a folder) or --dry-run");
  const controller = new AbortController();
  const onSigint = () => {
    console.error("\ninterrupted: stopping after the current step (the inversion cache is never left half-written)");
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  try {
    const result = await runEditPlan(plan, config.dataset, {
      cacheDir,
      device,
      signal: controller.signal,
      onProgress: progressReporter(),
      onNote: (m) => console.error(`note: ${m}`),
    });
    for (const f of result.outputs) console.log(f);
    console.error(`seconds: ${JSON.stringify(Object.fromEntries(Object.entries(result.seconds).map(([k, v]) => [k, +v.toFixed(2)])))}`);
    return 0;
  } catch (e) {
    if (controller.signal.aborted) return 130;
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** `--frames -1`: how many frames sampling takes from the whole source (a file or folder; a world clip has no end). */
function allFrames(video: string | undefined, d: FatezeroConfig["dataset"]): number {
  if (video === undefined || worldVideoSeed(video) !== undefined || video === SAMPLE_CLIP_SOURCE)
    throw new UsageError(`--frames -1 takes every frame of a video file or frame folder; ${video ?? "no video"} is neither`);
  if (!fs.existsSync(video)) throw new UsageError(`--video ${video}: no such file or folder`);
  const total = asUsageError(() => countSourceFrames(video));
  const n = Math.floor((total - d.startSampleFrame - 1) / d.samplingRate) + 1;
  if (n < 1) throw new UsageError(`--frames -1: ${video} has ${total} frames, none from start_sample_frame ${d.startSampleFrame}`);
  if (n > MAX_FRAMES) throw new UsageError(`--frames -1: ${video} gives ${n} frames, more than ${MAX_FRAMES}; give a count`);
  return n;
}

/** `f()`, its error reported as a usage error (exit 2, no stack trace). */
function asUsageError<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** "512" or "320x448" (height × width). */
function parseSize(v: string | undefined): number | [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:[x×](\d+))?$/.exec(v.trim());
  if (!m) throw new UsageError(`--size: expected N or HxW, got "${v}"`);
  const sides = (m[2] ? [m[1], m[2]] : [m[1]]).map(Number);
  if (sides.some((s) => s > MAX_SIZE)) throw new UsageError(`--size: at most ${MAX_SIZE} pixels a side, got "${v}"`);
  return sides.length === 2 ? [sides[0], sides[1]] : sides[0];
}
