// Everything about a run that can be checked before any work, shared by `--dry-run` and the real run: the
// prompts (printable, within CLIP's context), the step count, outputs that would replace an input, places
// that cannot be written, the video (opened, not decoded: a video stream, enough frames, images of one size)
// and a memory estimate against the machine. Each failure is bad input (exit 2).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { EditPlan } from "../config/editPlan";
import { MAX_PROMPT_CHARS } from "../config/limits";
import type { ModelFacts } from "../fatezero/loadModel";
import { BRANCHES } from "../fatezero/editVideo";
import { windowFrames } from "../fatezero/frameWindows";
import { maskLayers } from "../fatezero/attentionSites";
import { recordedMapFloats } from "../fatezero/mapRecorder";
import { estimatePeakBytes } from "../fatezero/memoryEstimate";
import { checkWritableFolder } from "../util/folderOutput";
import { asInputError, InputError } from "../util/inputError";
import { probeVideo } from "../video/readVideo";
import { gridFrameSize } from "../video/writeVideo";
import { SAMPLE_CLIP_SOURCE } from "../world/sampleClip";
import { worldVideoSeed } from "../world/worldClip";
import { checkEditOutput, outputFiles } from "./runEditPlan";

/** What else a check needs. */
export interface PreflightOptions {
  cacheDir: string;
  /** Files the run reads besides the video and the model (the config): no output may replace them. */
  inputs?: string[];
  /** Run even when the memory estimate exceeds the machine's memory. */
  ignoreMemoryLimit?: boolean;
}

/** What the check found that is not an error. */
export interface PreflightReport {
  peakBytesEstimate: number;
  machineBytes: number;
}

/** Check a plan before any work (the video is opened, not decoded); throws InputError naming what is wrong. */
export async function preflight(plan: EditPlan, model: ModelFacts, o: PreflightOptions): Promise<PreflightReport> {
  checkPrompts(plan, model);
  if (plan.steps > model.trainTimesteps)
    throw new InputError(`steps: ${plan.steps} DDIM steps, but the model's schedule has only ${model.trainTimesteps} timesteps`);
  checkOutputs(plan, model, o);
  // A generated clip is made at the plan's size; a file or folder is decoded at its own size, then fitted.
  const generated = plan.video === SAMPLE_CLIP_SOURCE || worldVideoSeed(plan.video) !== undefined;
  const source = generated ? undefined : await asInputError(() => probeVideo(plan.video, plan.frames));
  const peakBytesEstimate = estimatePeakBytes({
    weightBytes: model.weightBytes,
    unet: model.unet,
    latentSize: plan.latentSize,
    layers: plan.layers,
    frames: windowFrames(plan.frames.length, plan.unet.selectors, plan.frameChunk),
    clip: {
      frames: plan.frames.length,
      steps: plan.steps,
      mapFloats: storedMapFloats(plan, model),
      pixels: plan.size[0] * plan.size[1],
      sourcePixels: source ? source.width * source.height : 0,
      stepMapFloats: plan.edits.some((e) => e.blend?.latents) ? stepMapFloats(plan, model) : 0,
      gridPixels:
        plan.out === null
          ? 0
          : gridFrameSize(Array(1 + plan.edits.length).fill({ height: plan.size[0], width: plan.size[1] })).reduce((a, b) => a * b),
      videos: 1 + plan.edits.length,
    },
    branches: BRANCHES[plan.attention].texts.length,
    keyFrames: plan.unet.selectors.length,
  });
  const machineBytes = os.totalmem();
  if (peakBytesEstimate > machineBytes && !o.ignoreMemoryLimit) {
    throw new InputError(
      `${plan.frames.length} frames of ${plan.size.join("×")} need about ${gb(peakBytesEstimate)} of memory, ` +
        `this machine has ${gb(machineBytes)}: ` +
        "use fewer frames or a smaller --size (or --ignore-memory-limit to try anyway)",
    );
  }
  return { peakBytesEstimate, machineBytes };
}

/** Floats of the maps an inversion keeps per frame and step, for the inversion prompt's tokens (with SOT and EOT). */
function storedMapFloats(plan: EditPlan, model: ModelFacts): number {
  return recordedMapFloats(plan.layers, model.tokenizer.encode(plan.inversionPrompt).length + 2, model.tokenizer.maxLength);
}

/** Floats per frame of the mask layers' maps that an edit step with a latent blend gets back for every branch. */
function stepMapFloats(plan: EditPlan, model: ModelFacts): number {
  const positions = maskLayers(plan.layers).reduce((a, l) => a + l.height * l.width, 0);
  return BRANCHES[plan.attention].texts.length * positions * model.tokenizer.maxLength;
}

function gb(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GB`;
}

/** Prompts are printable text within the text encoder's context. */
function checkPrompts(plan: EditPlan, model: ModelFacts): void {
  const prompts: [string, string][] = [["the source prompt", plan.inversionPrompt]];
  for (const e of plan.edits) prompts.push([`edit ${e.index}'s prompt`, e.prompt], [`edit ${e.index}'s source prompt`, e.sourcePrompt]);
  const room = model.tokenizer.maxLength - 2;
  for (const [what, prompt] of prompts) {
    // Tokenizing megabytes would take long; the character bound comes first.
    if (prompt.length > MAX_PROMPT_CHARS) throw new InputError(`${what} has ${prompt.length} characters; at most ${MAX_PROMPT_CHARS}`);
    const control = /[\u0000-\u001f\u007f-\u009f]/.exec(prompt);
    if (control) {
      const code = control[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase();
      throw new InputError(`${what} ${JSON.stringify(prompt)} contains the control character U+${code}`);
    }
    const tokens = model.tokenizer.encode(prompt).length;
    if (tokens > room)
      throw new InputError(`${what} has ${tokens} tokens; the text encoder reads at most ${room}: ${JSON.stringify(prompt)}`);
  }
}

/** No output replaces an input, and every output and the cache can be written. */
function checkOutputs(plan: EditPlan, model: ModelFacts, o: PreflightOptions): void {
  const real = (p: string) => (fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p));
  const inputs = new Map<string, string>();
  if (fs.existsSync(plan.video)) inputs.set(real(plan.video), `the input video ${plan.video}`);
  for (const f of o.inputs ?? []) inputs.set(real(f), `the config ${f}`);
  for (const f of model.files) inputs.set(real(f), `the model file ${f}`);
  if (plan.out !== null) {
    const ext = path.extname(plan.out).toLowerCase();
    // Anything else would silently become a folder named like a file (out.avi/source.mp4, …).
    if (ext !== "" && ext !== ".mp4" && ext !== ".gif" && !(fs.existsSync(plan.out) && fs.statSync(plan.out).isDirectory()))
      throw new InputError(`--out ${plan.out}: give a .mp4 or .gif file, or a folder (a name without an extension, or an existing folder)`);
    for (const file of [plan.out, ...outputFiles(plan.out, plan.edits.length)]) {
      const replaced = inputs.get(real(file));
      if (replaced) throw new InputError(`--out ${plan.out}: would write ${file}, which is ${replaced}`);
    }
    for (const file of outputFiles(plan.out, plan.edits.length)) checkWritable(file, `--out ${plan.out}`);
    checkEditOutput(plan.out, plan.edits.length, inputs.keys());
  }
  checkWritable(path.join(o.cacheDir, "inversions"), `the cache folder ${o.cacheDir}`);
}

/**
 * `target` can be created or replaced: a file can be made in its folder, or in the nearest folder that exists
 * (tried for real, since permission bits say nothing on a read-only mount or to root).
 */
function checkWritable(target: string, what: string): void {
  let dir = path.dirname(path.resolve(target));
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  checkWritableFolder(dir, what);
  if (fs.existsSync(target) && fs.statSync(target).isFile()) {
    try {
      fs.accessSync(target, fs.constants.W_OK);
    } catch {
      throw new InputError(`${what}: ${target} exists and is not writable`);
    }
  }
}
