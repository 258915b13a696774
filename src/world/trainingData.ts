// The world model's training set, written as flat little-endian arrays for the training program (train/):
// frames, the token ids of every caption variant, which tokens name the vehicle, and the vehicle's coverage
// at latent resolution (for the attention term). meta.json names every array's file, dtype and shape, and the
// UNet layers the attention term supervises: the trainer reads them there instead of restating them. Clips
// come from seeds at TRAINING_SEEDS and up, so held-out benchmark seeds below it are never seen in training.
import * as fs from "node:fs";
import * as path from "node:path";
import { vaeConfig, vaeFactor } from "../networks/configs";
import { vocabularySize } from "../networks/modelSpecs";
import type { RandomModelSpec } from "../networks/randomModel";
import { ClipTokenizer, CLIP_TOKENS } from "../tokenizer/clipTokenizer";
import { getWordIndices } from "../tokenizer/wordIndices";
import { CAPTION_VARIANTS, vehicleWords } from "./captions";
import { seededRandom } from "./layout";
import { COLOUR_NAMES, SETTINGS, STYLES, VEHICLE_COLOURS, VEHICLE_KINDS, type WorldAttributes } from "./vocabulary";
import { renderWorldClip, WORLD_FRAMES, WORLD_SIZE } from "./worldClip";
import { worldVocabFiles } from "./worldVocab";

/** First seed of the training clips; benchmark seeds must stay below. */
export const TRAINING_SEEDS = 1_000_000;
/** What an export's manifest names as its writer (`fatezero world-training-data`). */
export const TRAINING_DATA_WRITER = "fatezero world-training-data";
/** Bumped whenever what the exporter writes changes. */
export const TRAINING_DATA_VERSION = 3;

/** The attributes of training clip `seed`: uniform over the vocabulary, fixed by the seed. */
export function trainingAttributes(seed: number): WorldAttributes {
  const random = seededRandom(seed * 7 + 3);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  return { kind: pick(VEHICLE_KINDS), colour: pick(COLOUR_NAMES), setting: pick(SETTINGS), style: pick(STYLES) };
}

/** One array of an export: its file, element type (little-endian) and shape. */
export interface TrainingArray {
  file: string;
  dtype: "uint8" | "int32";
  shape: number[];
}

/** The arrays of an export, by the name the trainer reads each under. */
export type TrainingArrays = Record<"frames" | "ids" | "objectTokens" | "vehicle", TrainingArray>;

/** A UNet attention layer as the runtime describes it (src/fatezero/attentionSites.ts), as far as the export reads it. */
export interface AttentionSiteFacts {
  module: string;
  place: "down" | "mid" | "up";
  kind: "self" | "cross";
  controlled: boolean;
  maskSource: boolean;
  height: number;
  width: number;
}

/** A cross-attention layer the trainer's attention term supervises: its module path and latent size. */
export interface SupervisedLayer {
  module: string;
  height: number;
  width: number;
}

/** The model an export trains: its configs, and the runtime's attention layers of its UNet for a latent size. */
export interface TrainingModel {
  spec: RandomModelSpec;
  attentionSites(latent: [number, number]): AttentionSiteFacts[];
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
  /** Every array's file, dtype and shape: the trainer maps the files by these. */
  arrays: TrainingArrays;
  /** The cross-attention layers the attention term supervises, in forward order. */
  attentionLayers: SupervisedLayer[];
}

/** Bytes per element of each dtype. */
const DTYPE_BYTES = { uint8: 1, int32: 4 } as const;

/** The latent side of a world frame for the model's VAE. */
function latentSide(spec: RandomModelSpec): number {
  return WORLD_SIZE / vaeFactor(vaeConfig(spec.vae));
}

/** The arrays of `clips` clips for the model `spec`: every frame's pixels, caption ids and vehicle tokens per variant, and coverage. */
function trainingArrays(clips: number, spec: RandomModelSpec): TrainingArrays {
  const [N, S, s, V, T] = [clips * WORLD_FRAMES, WORLD_SIZE, latentSide(spec), CAPTION_VARIANTS, CLIP_TOKENS];
  return {
    frames: { file: "frames.u8", dtype: "uint8", shape: [N, S, S, 3] },
    ids: { file: "ids.i32", dtype: "int32", shape: [N, V, T] },
    objectTokens: { file: "objectTokens.u8", dtype: "uint8", shape: [N, V, T] },
    vehicle: { file: "vehicle.u8", dtype: "uint8", shape: [N, s, s] },
  };
}

/** Bytes `writeTrainingData` writes for `clips` clips for the model `spec` (the files grow by the same amount per clip). */
export function trainingDataBytes(clips: number, spec: RandomModelSpec): number {
  return Object.values(trainingArrays(clips, spec)).reduce((sum, a) => sum + a.shape.reduce((n, d) => n * d, DTYPE_BYTES[a.dtype]), 0);
}

/**
 * The layers the attention term supervises: the controlled cross-attention layers outside the mid block (its
 * 2×2 maps say little of where the vehicle is), which include every layer the blend mask reads.
 */
export function supervisedLayers(sites: AttentionSiteFacts[]): SupervisedLayer[] {
  return sites
    .filter((l) => l.maskSource || (l.kind === "cross" && l.controlled && l.place !== "mid"))
    .map(({ module, height, width }) => ({ module, height, width }));
}

/**
 * Write `clips` training clips for `model` into the new folder `dir` (its arrays and meta.json) under their
 * final names: the caller publishes the folder whole (util/folderOutput.ts).
 */
export function writeTrainingData(
  dir: string,
  clips: number,
  model: TrainingModel,
  onProgress?: (done: number, total: number) => void,
): TrainingDataMeta {
  const files = worldVocabFiles();
  const tokenizer = new ClipTokenizer(files.vocab, files.merges);
  const T = tokenizer.maxLength;
  const S = WORLD_SIZE;
  const s = latentSide(model.spec);
  const factor = S / s;
  const arrays = trainingArrays(clips, model.spec);
  fs.mkdirSync(dir, { recursive: true });
  const open = (a: TrainingArray) => fs.openSync(path.join(dir, a.file), "wx");
  const out = {
    frames: open(arrays.frames),
    ids: open(arrays.ids),
    objectTokens: open(arrays.objectTokens),
    vehicle: open(arrays.vehicle),
  };
  for (let c = 0; c < clips; c++) {
    const seed = TRAINING_SEEDS + c;
    const world = renderWorldClip(seed, trainingAttributes(seed));
    const ids = new Int32Array(CAPTION_VARIANTS * T); // [V, T]
    const objects = new Uint8Array(CAPTION_VARIANTS * T); // [V, T]
    world.captions.forEach((caption, v) => {
      ids.set(tokenizer.tokenize(caption).ids, v * T);
      for (const word of vehicleWords(world.attributes)) for (const i of getWordIndices(caption, word, tokenizer)) objects[v * T + i] = 1;
    });
    const covered = new Uint32Array(WORLD_FRAMES * s * s); // [F, s, s] vehicle pixels per latent pixel
    const mask = world.masks.vehicle;
    for (let f = 0; f < WORLD_FRAMES; f++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) covered[(f * s + Math.floor(y / factor)) * s + Math.floor(x / factor)] += mask[(f * S + y) * S + x];
    const coverage = Uint8Array.from(covered, (n) => Math.round((n * 255) / (factor * factor))); // [F, s, s] share, 0..255
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
    variants: CAPTION_VARIANTS,
    tokens: T,
    vocabSize: vocabularySize(files),
    firstSeed: TRAINING_SEEDS,
    emptyIds: tokenizer.tokenize("").ids,
    colours: COLOUR_NAMES.map((name) => ({ name, tokenId: singleToken(tokenizer, name), rgb: VEHICLE_COLOURS[name] })),
    arrays,
    attentionLayers: supervisedLayers(model.attentionSites([s, s])),
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
