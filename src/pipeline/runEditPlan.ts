// Runs a resolved edit plan end to end — video → latents → inversion (cached) → edits → frames — and
// writes the results. The CLI's `edit` command and notebook cells share this path.
import * as fs from "node:fs";
import * as path from "node:path";
import type { EditPlan } from "../config/editPlan";
import type { DatasetOptions } from "../config/fatezeroConfig";
import { InversionCache } from "../fatezero/inversionCache";
import type { InversionRecord, LatentVideo } from "../fatezero/inversionRecord";
import { releaseFusedUnets } from "../fatezero/fusedUnet";
import { invertVideo } from "../fatezero/invertVideo";
import type { Device } from "../onnx/device";
import { defaultCacheDir } from "../onnx/session";
import { readVideo, type VideoClip } from "../video/readVideo";
import { makeSampleClip, SAMPLE_CLIP_SOURCE } from "../world/sampleClip";
import { SAMPLE_ATTRIBUTES } from "../world/vocabulary";
import { renderWorldClip, worldVideoSeed } from "../world/worldClip";
import { writeGif, writeGrid, writeMp4 } from "../video/writeVideo";
import { decodeLatents } from "../fatezero/decodeLatents";
import { editVideo } from "../fatezero/editVideo";
import { checkReplaceable, recordFiles } from "../util/fileRecord";
import { outputFolder, writeFolder } from "../util/folderOutput";
import { asInputError, InputError } from "../util/inputError";
import { loadModel } from "../fatezero/loadModel";

/** Stages reported to `onProgress`. */
export type Stage = "load" | "invert" | `edit ${number}` | "decode" | "write";

/** Options of a run. */
export interface RunOptions {
  cacheDir?: string;
  /** The execution provider (default: the CPU). */
  device?: Device;
  signal?: AbortSignal;
  onProgress?: (stage: Stage, done: number, total: number) => void;
  /** Print-worthy notes (truncated prompts, ignored words). */
  onNote?: (message: string) => void;
}

/** What a run produced. */
export interface RunResult {
  source: VideoClip;
  edits: { prompt: string; clip: VideoClip }[];
  inversion: InversionRecord;
  /** Files written, when the plan has an output path. */
  outputs: string[];
  seconds: Record<string, number>;
  /** Seconds of each edit's denoising loop, in the plan's order. */
  editSeconds: number[];
}

/** Load the plan's clip: a video file or frame folder, a world clip (`world:<seed>`) or the sample clip. */
export async function loadPlanVideo(plan: EditPlan, dataset: DatasetOptions): Promise<VideoClip> {
  const [H, W] = plan.size;
  if (plan.video === SAMPLE_CLIP_SOURCE) return centerCrop(makeSampleClip(plan.frames.length, Math.max(H, W)), H, W);
  const seed = worldVideoSeed(plan.video);
  if (seed !== undefined)
    return centerCrop(renderWorldClip(seed, SAMPLE_ATTRIBUTES, { frames: plan.frames.length, size: Math.max(H, W) }).clip, H, W);
  return readVideo(plan.video, {
    size: [H, W],
    nSampleFrame: plan.frames.length,
    samplingRate: dataset.samplingRate,
    startSampleFrame: dataset.startSampleFrame,
    offset: dataset.offset,
  });
}

/** Run every edit of `plan` and write the outputs (if `plan.out`). */
export async function runEditPlan(plan: EditPlan, dataset: DatasetOptions, options: RunOptions = {}): Promise<RunResult> {
  const seconds: Record<string, number> = {};
  const timed = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await work();
    seconds[stage] = (seconds[stage] ?? 0) + (performance.now() - t0) / 1000;
    return r;
  };
  const note = options.onNote ?? (() => undefined);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  options.onProgress?.("load", 0, 1);
  // Failures here come from the user's model folder or video: they are input errors.
  const model = await timed("load", () =>
    asInputError(() =>
      loadModel(plan.model, { cacheDir, modelConfig: plan.modelConfig ?? undefined, ema: plan.ema, device: options.device }),
    ),
  );
  const source = await timed("read", () => asInputError(() => loadPlanVideo(plan, dataset)));
  options.onProgress?.("load", 1, 1);
  const [H, W] = plan.size;
  const inversion = await timed("invert", () =>
    invertVideo(
      model,
      {
        frames: source.frames,
        frameCount: source.count,
        height: H,
        width: W,
        prompt: plan.inversionPrompt,
        steps: plan.steps,
        inversionIterations: plan.inversionIterations,
        unetPrecision: plan.unetPrecision,
        selectors: plan.unet.selectors,
        leastScChannel: plan.unet.leastScChannel,
        queryLimit: plan.controlQueryLimit,
        frameChunk: plan.frameChunk,
      },
      { cache: new InversionCache(cacheDir), signal: options.signal, onProgress: (d, t) => options.onProgress?.("invert", d, t) },
    ),
  );
  const edits: RunResult["edits"] = [];
  const editSeconds: number[] = [];
  const latents: LatentVideo[] = [];
  for (const e of plan.edits) {
    const before = seconds.edit ?? 0;
    const result = await timed("edit", () =>
      editVideo(model, inversion, e.spec, {
        guidanceScale: plan.guidanceScale,
        negativePrompt: plan.negativePrompt,
        attention: plan.attention,
        missingWords: "ignore",
        signal: options.signal,
        onProgress: (d, t) => options.onProgress?.(`edit ${e.index}`, d, t),
      }),
    );
    editSeconds.push(seconds.edit - before);
    for (const w of result.controller.ignoredWords)
      note(`edit ${e.index}: "${w.word}" is not in "${w.prompt}" (${w.use}); ignored as FateZero does`);
    latents.push(result.latents);
  }
  // Decoding comes after every edit loop, with the UNet closed: the VAE's activations then never sit on top of
  // the UNet's weights and working memory (several GB at SD's size).
  await releaseFusedUnets(model);
  for (const [i, e] of plan.edits.entries()) {
    const frames = await timed("decode", () => decodeLatents(model, latents[i]));
    edits.push({ prompt: e.prompt, clip: { ...source, frames, source: `edit: ${e.prompt}` } });
  }
  const outputs = plan.out ? await timed("write", () => writeOutputs(plan.out!, source, edits)) : [];
  return { source, edits, inversion, outputs, seconds, editSeconds };
}

/** Who edit's output folders and files are recorded as written by. */
export const EDIT_WRITER = "fatezero edit";

/**
 * `out.mp4` / `out.gif`: the last edit there and a labelled grid (source | every edit) beside it as
 * `out.grid.mp4`, each replacing only a file an earlier edit wrote there; any other path is a folder, written
 * whole, of source.mp4, edit<i>.mp4 and grid.mp4.
 */
async function writeOutputs(out: string, source: VideoClip, edits: RunResult["edits"]): Promise<string[]> {
  const columns = [
    { label: "source", clip: source },
    ...edits.map((e, i) => ({ label: i === 0 && edits.length > 1 ? `reconstruction: ${e.prompt}` : e.prompt, clip: e.clip })),
  ];
  const files = outputFiles(out, edits.length);
  const ext = path.extname(out).toLowerCase();
  if (ext === ".mp4" || ext === ".gif") {
    // Checked again here: the run may have taken hours, and a notebook cell calls this without the preflight.
    for (const file of files) checkReplaceable(file, EDIT_WRITER, `--out ${out}`);
    await (ext === ".mp4" ? writeMp4 : writeGif)(files[0], edits[edits.length - 1].clip);
    await writeGrid(files[1], columns);
    recordFiles(files, EDIT_WRITER);
    return files;
  }
  await writeFolder(outputFolder(out, "--out", EDIT_WRITER), async (staging) => {
    const [sourceFile, ...rest] = files.map((f) => path.join(staging, path.basename(f)));
    await writeMp4(sourceFile, source);
    for (let i = 0; i < edits.length; i++) await writeMp4(rest[i], edits[i].clip);
    await writeGrid(rest[rest.length - 1], columns);
  });
  return files;
}

/**
 * Refuse (InputError naming --out) outputs that would replace what edit did not write: a file of the user's
 * at out.mp4 or its grid, a folder that is not an earlier edit's output, or one holding an input (`inputs`:
 * real paths of the video, config and model files).
 */
export function checkEditOutput(out: string, edits: number, inputs: Iterable<string>): void {
  const ext = path.extname(out).toLowerCase();
  if (ext === ".mp4" || ext === ".gif") {
    for (const file of outputFiles(out, edits)) checkReplaceable(path.resolve(file), EDIT_WRITER, `--out ${out}`);
    return;
  }
  const folder = outputFolder(out, "--out", EDIT_WRITER);
  if (folder.replacing !== "ours") return;
  const real = fs.realpathSync(folder.target);
  for (const input of inputs)
    if (input.startsWith(real + path.sep))
      throw new InputError(`${folder.what}: holds ${input}, an input of this run; give another folder`);
}

/** The files a run with `edits` edits writes for `out`: a video and its grid, or a folder's source, edits and grid. */
export function outputFiles(out: string, edits: number): string[] {
  const ext = path.extname(out).toLowerCase();
  if (ext === ".mp4" || ext === ".gif") return [out, out.slice(0, -ext.length) + ".grid" + ext];
  return [
    path.join(out, "source.mp4"),
    ...Array.from({ length: edits }, (_, i) => path.join(out, `edit${i}.mp4`)),
    path.join(out, "grid.mp4"),
  ];
}

/** Crop the centre H × W of a clip. */
function centerCrop(clip: VideoClip, H: number, W: number): VideoClip {
  if (clip.height === H && clip.width === W) return clip;
  const top = (clip.height - H) >> 1;
  const left = (clip.width - W) >> 1;
  const frames = new Uint8Array(clip.count * H * W * 3); // [F, H, W, 3]
  for (let f = 0; f < clip.count; f++) {
    for (let y = 0; y < H; y++) {
      const from = ((f * clip.height + top + y) * clip.width + left) * 3;
      frames.set(clip.frames.subarray(from, from + W * 3), (f * H + y) * W * 3);
    }
  }
  return { ...clip, frames, height: H, width: W };
}
