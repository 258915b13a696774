// The inputs every figure notebook starts from, read from environment variables so that the same cells run
// the tiny model in a minute (the default) or a real Stable Diffusion folder at FateZero's sizes.
import * as fs from "node:fs";
import * as path from "node:path";
import { readVideo, type VideoClip } from "../../src/video/readVideo";
import { makeSampleClip } from "../../src/world/sampleClip";

/** What a notebook runs on. */
export interface NotebookInputs {
  /** "tiny" or a diffusers folder ($FATEZERO_MODEL). */
  model: string;
  /** A video file or frame folder; undefined = the generated sample clip. */
  video?: string;
  /** The prompt describing the clip, and its main object word (the blend word of shape edits). */
  source: string;
  object: string;
  frames: number;
  size: number;
  steps: number;
  /** OpenAI's CLIP merge list when ../shared has it (the tiny model's tokenizer uses it when present). */
  clipMerges?: string;
}

/** The paper's car-turn clip and its prompt (FateZero's teaser configs). */
const CAR_TURN = { dir: "data/car-turn", source: "a silver jeep driving down a curvy road in the countryside", object: "jeep" };
/** The generated sample clip's prompt. */
const SAMPLE = { source: "a red car driving down a curvy road in the countryside", object: "car" };

function numberEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got "${raw}"`);
  return n;
}

/**
 * Inputs from $FATEZERO_MODEL, $FATEZERO_VIDEO (+ $FATEZERO_SOURCE, $FATEZERO_OBJECT), $FATEZERO_FRAMES,
 * $FATEZERO_SIZE, $FATEZERO_STEPS; the clip defaults to `shared/data/car-turn` beside the project (seen from
 * `notebookDir`, the project's notebooks/ folder), else the generated sample clip.
 */
export function notebookInputs(notebookDir = process.cwd()): NotebookInputs {
  const model = process.env.FATEZERO_MODEL || "tiny";
  const tiny = model === "tiny";
  const shared = path.resolve(notebookDir, "..", "..", "shared");
  const carTurn = path.join(shared, CAR_TURN.dir);
  const video = process.env.FATEZERO_VIDEO || (fs.existsSync(carTurn) ? carTurn : undefined);
  if (process.env.FATEZERO_VIDEO && !process.env.FATEZERO_SOURCE)
    throw new Error("FATEZERO_VIDEO needs FATEZERO_SOURCE (a prompt describing the video) and FATEZERO_OBJECT (its main object word)");
  const known = video === undefined ? SAMPLE : video === carTurn ? CAR_TURN : undefined;
  const source = process.env.FATEZERO_SOURCE || known!.source;
  const object = process.env.FATEZERO_OBJECT || known?.object || source.split(" ")[1];
  if (!source.split(" ").includes(object)) throw new Error(`FATEZERO_OBJECT "${object}" is not a word of the source prompt "${source}"`);
  const merges = path.join(shared, "data/clip/bpe_simple_vocab_16e6.txt.gz");
  return {
    model,
    video,
    source,
    object,
    frames: numberEnv("FATEZERO_FRAMES", tiny ? 6 : 8),
    size: numberEnv("FATEZERO_SIZE", tiny ? 128 : 512),
    steps: numberEnv("FATEZERO_STEPS", tiny ? 8 : 50),
    ...(fs.existsSync(merges) ? { clipMerges: merges } : {}),
  };
}

/** The inputs' clip: the video read at their size and frame count, or the generated sample clip. */
export function notebookClip(inputs: NotebookInputs): Promise<VideoClip> {
  if (inputs.video === undefined) return Promise.resolve(makeSampleClip(inputs.frames, inputs.size));
  return readVideo(inputs.video, { size: inputs.size, nSampleFrame: inputs.frames });
}
