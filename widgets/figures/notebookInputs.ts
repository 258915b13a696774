// The inputs every figure notebook starts from, read from environment variables so that the same cells run
// the world model on a world clip in seconds (the default), or a real Stable Diffusion folder on any video at
// FateZero's sizes.
import * as fs from "node:fs";
import * as path from "node:path";
import { MAX_FRAMES, MAX_SIZE, MAX_STEPS } from "../../src/config/limits";
import { deviceFromEnvironment, type Device } from "../../src/onnx/device";
import { asInputSync, InputError } from "../../src/util/inputError";
import { readVideo, type VideoClip } from "../../src/video/readVideo";
import { worldCaption } from "../../src/world/captions";
import { SAMPLE_ATTRIBUTES } from "../../src/world/vocabulary";
import { DEFAULT_WORLD_VIDEO, renderWorldClip, WORLD_FRAMES, WORLD_SIZE, worldVideoSeed } from "../../src/world/worldClip";
import { WORLD_STEPS } from "../../src/world/worldModel";

/** What a notebook runs on. */
export interface NotebookInputs {
  /** "world" (the trained embedded model), "tiny" (random weights) or a diffusers folder ($FATEZERO_MODEL). */
  model: string;
  /** For a single-file checkpoint: a diffusers folder with its configs and tokenizer ($FATEZERO_MODEL_CONFIG). */
  modelConfig?: string;
  /** Where the graphs run ($FATEZERO_DEVICE). */
  device: Device;
  /** A video file, a frame folder or a world clip ("world:<seed>"). */
  video: string;
  /** The prompt describing the clip, and its main object word (the blend word of object edits). */
  source: string;
  object: string;
  frames: number;
  size: number;
  steps: number;
  /** OpenAI's CLIP merge list when ../shared has it (the tiny model's tokenizer uses it when present). */
  clipMerges?: string;
}

/** The paper's car-turn clip in the shared data, and its prompt (FateZero's teaser configs). */
const CAR_TURN = { dir: "data/car-turn", source: "a silver jeep driving down a curvy road in the countryside", object: "jeep" };

/** Frames, size and steps by model: the embedded ones at their small sizes, real models at FateZero's. */
const SIZES: Record<string, [number, number, number]> = { world: [WORLD_FRAMES, WORLD_SIZE, WORLD_STEPS], tiny: [6, 128, 8] };
const FATEZERO_SIZES: [number, number, number] = [8, 512, 50];

/** An integer variable within the CLI's bound for it (src/config/limits.ts), or `fallback` when unset. */
function numberEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > max)
    throw new InputError(`${name}: expected an integer in 1…${max}, got "${raw}"`);
  return n;
}

/**
 * Inputs from $FATEZERO_MODEL (+ $FATEZERO_MODEL_CONFIG), $FATEZERO_DEVICE, $FATEZERO_VIDEO (+ $FATEZERO_SOURCE, $FATEZERO_OBJECT),
 * $FATEZERO_FRAMES, $FATEZERO_SIZE, $FATEZERO_STEPS. The clip defaults to world clip 13; the car-turn clip of
 * `shared/` beside the project (seen from `notebookDir`, the project's notebooks/ folder) needs no prompt.
 * Errors are InputErrors naming the variable.
 */
export function notebookInputs(notebookDir = process.cwd(), env: NodeJS.ProcessEnv = process.env): NotebookInputs {
  const model = env.FATEZERO_MODEL || "world";
  const shared = path.resolve(notebookDir, "..", "..", "shared");
  const video = env.FATEZERO_VIDEO || DEFAULT_WORLD_VIDEO;
  const world = asInputSync(() => worldVideoSeed(video) !== undefined, "FATEZERO_VIDEO");
  const carTurn = path.resolve(video) === path.join(shared, CAR_TURN.dir);
  const known = world ? { source: worldCaption(SAMPLE_ATTRIBUTES), object: SAMPLE_ATTRIBUTES.kind } : carTurn ? CAR_TURN : undefined;
  if (!known && !env.FATEZERO_SOURCE)
    throw new InputError("FATEZERO_VIDEO needs FATEZERO_SOURCE (a prompt describing the video) and FATEZERO_OBJECT (its main object word)");
  const source = env.FATEZERO_SOURCE || known!.source;
  const object = env.FATEZERO_OBJECT || known?.object || source.split(" ")[1];
  if (!object) throw new InputError(`FATEZERO_OBJECT: give the main object word of the source prompt "${source}"`);
  if (!source.split(" ").includes(object))
    throw new InputError(`FATEZERO_OBJECT "${object}" is not a word of the source prompt "${source}"`);
  const [frames, size, steps] = SIZES[model] ?? FATEZERO_SIZES;
  const merges = path.join(shared, "data/clip/bpe_simple_vocab_16e6.txt.gz");
  return {
    model,
    ...(env.FATEZERO_MODEL_CONFIG ? { modelConfig: env.FATEZERO_MODEL_CONFIG } : {}),
    device: deviceFromEnvironment(env),
    video,
    source,
    object,
    frames: numberEnv(env, "FATEZERO_FRAMES", frames, MAX_FRAMES),
    size: numberEnv(env, "FATEZERO_SIZE", size, MAX_SIZE),
    steps: numberEnv(env, "FATEZERO_STEPS", steps, MAX_STEPS),
    ...(model === "tiny" && fs.existsSync(merges) ? { clipMerges: merges } : {}),
  };
}

/** The inputs' clip: the world clip or the video, at their size and frame count. */
export function notebookClip(inputs: NotebookInputs): Promise<VideoClip> {
  const seed = worldVideoSeed(inputs.video);
  if (seed !== undefined)
    return Promise.resolve(renderWorldClip(seed, SAMPLE_ATTRIBUTES, { frames: inputs.frames, size: inputs.size }).clip);
  return readVideo(inputs.video, { size: inputs.size, nSampleFrame: inputs.frames });
}
