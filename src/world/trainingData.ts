// The world model's training set, written as flat little-endian arrays for the training program (train/):
// frames, the token ids of every caption variant, which tokens name the vehicle, and the vehicle's coverage
// at latent resolution (for the attention term). Clips come from seeds at TRAINING_SEEDS and up, so held-out
// benchmark seeds below it are never seen in training.
import * as fs from "node:fs";
import * as path from "node:path";
import { ClipTokenizer, CLIP_TOKENS } from "../tokenizer/clipTokenizer";
import { getWordIndices } from "../tokenizer/wordIndices";
import { CAPTION_VARIANTS, vehicleWords } from "./captions";
import { seededRandom } from "./layout";
import { COLOUR_NAMES, SETTINGS, STYLES, VEHICLE_COLOURS, VEHICLE_KINDS, type WorldAttributes } from "./vocabulary";
import { renderWorldClip, WORLD_FRAMES, WORLD_SIZE } from "./worldClip";
import { worldVocabFiles } from "./worldVocab";

/** First seed of the training clips; benchmark seeds must stay below. */
export const TRAINING_SEEDS = 1_000_000;
/** Latent pixels per image pixel side: the VAE's factor (three 2× downsamplings). */
const VAE_FACTOR = 8;
/** What an export's manifest names as its writer (`fatezero world-training-data`). */
export const TRAINING_DATA_WRITER = "fatezero world-training-data";
/** Bumped whenever what the exporter writes changes. */
export const TRAINING_DATA_VERSION = 2;

/** The attributes of training clip `seed`: uniform over the vocabulary, fixed by the seed. */
export function trainingAttributes(seed: number): WorldAttributes {
  const random = seededRandom(seed * 7 + 3);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  return { kind: pick(VEHICLE_KINDS), colour: pick(COLOUR_NAMES), setting: pick(SETTINGS), style: pick(STYLES) };
}

/** What an export contains (meta.json). */
export interface TrainingDataMeta {
  version: number;
  clips: number;
  frames: number;
  size: number;
  variants: number;
  tokens: number;
  vocabSize: number;
  firstSeed: number;
  /** Ids of the empty prompt (classifier-free guidance's unconditional caption). */
  emptyIds: number[];
  /** Each vehicle colour's token id and body RGB, for the report's colour-steering measure. */
  colours: { name: string; tokenId: number; rgb: readonly number[] }[];
}

/** The names of the data files, in the order the trainer reads them. */
const DATA_FILES = { frames: "frames.u8", ids: "ids.i32", objectTokens: "objectTokens.u8", vehicle: "vehicle.u8" };

/** Bytes `writeTrainingData` writes for `clips` clips (the files grow by the same amount per clip). */
export function trainingDataBytes(clips: number): number {
  const S = WORLD_SIZE;
  const s = S / VAE_FACTOR;
  const perFrame = S * S * 3 + CAPTION_VARIANTS * CLIP_TOKENS * (4 + 1) + s * s; // frames, ids (i32), objectTokens, vehicle
  return clips * WORLD_FRAMES * perFrame;
}

/**
 * Write `clips` training clips into the new folder `dir` (frames.u8, ids.i32, objectTokens.u8, vehicle.u8,
 * meta.json) under their final names: the caller publishes the folder whole (util/folderOutput.ts).
 */
export function writeTrainingData(dir: string, clips: number, onProgress?: (done: number, total: number) => void): TrainingDataMeta {
  const files = worldVocabFiles();
  const tokenizer = new ClipTokenizer(files.vocab, files.merges);
  const T = tokenizer.maxLength;
  const S = WORLD_SIZE;
  const s = S / VAE_FACTOR;
  fs.mkdirSync(dir, { recursive: true });
  const open = (name: string) => fs.openSync(path.join(dir, name), "wx");
  const out = {
    frames: open(DATA_FILES.frames),
    ids: open(DATA_FILES.ids),
    objectTokens: open(DATA_FILES.objectTokens),
    vehicle: open(DATA_FILES.vehicle),
  };
  let variants = 0;
  for (let c = 0; c < clips; c++) {
    const seed = TRAINING_SEEDS + c;
    const world = renderWorldClip(seed, trainingAttributes(seed));
    variants = world.captions.length;
    const ids = new Int32Array(variants * T); // [V, T]
    const objects = new Uint8Array(variants * T); // [V, T]
    world.captions.forEach((caption, v) => {
      ids.set(tokenizer.tokenize(caption).ids, v * T);
      for (const word of vehicleWords(world.attributes)) for (const i of getWordIndices(caption, word, tokenizer)) objects[v * T + i] = 1;
    });
    const coverage = new Uint8Array(WORLD_FRAMES * s * s); // [F, s, s] share of vehicle pixels, 0..255
    const mask = world.masks.vehicle;
    for (let f = 0; f < WORLD_FRAMES; f++) {
      for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) coverage[(f * s + (y >> 3)) * s + (x >> 3)] += mask[(f * S + y) * S + x];
      for (let i = 0; i < s * s; i++) coverage[f * s * s + i] = Math.round((coverage[f * s * s + i] * 255) / 64);
    }
    fs.writeSync(out.frames, world.clip.frames);
    for (let f = 0; f < WORLD_FRAMES; f++) {
      fs.writeSync(out.ids, new Uint8Array(ids.buffer));
      fs.writeSync(out.objectTokens, objects);
    }
    fs.writeSync(out.vehicle, coverage);
    onProgress?.(c + 1, clips);
  }
  for (const fd of Object.values(out)) fs.closeSync(fd);
  const meta: TrainingDataMeta = {
    version: TRAINING_DATA_VERSION,
    clips,
    frames: clips * WORLD_FRAMES,
    size: S,
    variants,
    tokens: T,
    vocabSize: Object.values(files.vocab).reduce((m, id) => Math.max(m, id + 1), 0),
    firstSeed: TRAINING_SEEDS,
    emptyIds: tokenizer.tokenize("").ids,
    colours: COLOUR_NAMES.map((name) => ({ name, tokenId: singleToken(tokenizer, name), rgb: VEHICLE_COLOURS[name] })),
  };
  fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify(meta, null, 1) + "\n");
  return meta;
}

/** The one token id of `word`; the world's vocabulary has one per colour. */
function singleToken(tokenizer: ClipTokenizer, word: string): number {
  const ids = tokenizer.encode(word);
  if (ids.length !== 1) throw new Error(`world vocabulary: "${word}" is ${ids.length} tokens, not 1`);
  return ids[0];
}
