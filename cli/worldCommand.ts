// `fatezero world`: one world clip with its captions and ground-truth masks; `fatezero world-training-data`:
// the training set and the model skeleton the trainer (train/) fills with weights; `fatezero world-bench`:
// the ground-truth edit benchmark.
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { writeRandomModel } from "../src/models/randomModel";
import { checkFolderPath, folderTarget, writeFolder } from "../src/util/folderOutput";
import { InputError } from "../src/util/inputError";
import { writeFrames, writeMp4 } from "../src/video/writeVideo";
import { MAX_SEED } from "../src/world/layout";
import { TRAINING_SEEDS, writeTrainingData } from "../src/world/trainingData";
import { loadModel, modelFacts } from "../src/fatezero/loadModel";
import { parseDevice } from "../src/onnx/device";
import { runWorldBench, type BenchRow } from "../src/pipeline/worldBench";
import {
  COLOUR_NAMES,
  MASK_NAMES,
  SAMPLE_ATTRIBUTES,
  SETTINGS,
  STYLES,
  VEHICLE_KINDS,
  oneOf,
  type WorldAttributes,
} from "../src/world/vocabulary";
import { renderWorldClip, WORLD_FRAMES, WORLD_SIZE } from "../src/world/worldClip";
import { GPU_PLAN_VAE_WIDTH, miniatureWorldModelSpec, WORLD_STEPS, worldModelSpec } from "../src/world/worldModel";
import { progressReporter } from "./progress";

/** Flags of `fatezero world`. */
export interface WorldFlags {
  seed: string;
  out: string;
  kind?: string;
  colour?: string;
  setting?: string;
  style?: string;
  frames?: string;
  size?: string;
}

/** An integer flag within [min, max], or the default. */
export function integerFlag(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new InputError(`--${name} must be an integer in ${min}..${max}, got "${value}"`);
  return n;
}

/** A --seed flag's value: a non-negative integer that a double holds exactly. */
export function seedFlag(value: string): number {
  if (!/^\s*\d+\s*$/.test(value)) throw new InputError(`--seed must be a non-negative integer, got "${value}"`);
  if (Number(value) > MAX_SEED) throw new InputError(`--seed must be at most ${MAX_SEED}, got "${value}"`);
  return Number(value);
}

/** The attributes named by the flags (the sample's where absent). */
export function attributesFromFlags(flags: Pick<WorldFlags, "kind" | "colour" | "setting" | "style">): WorldAttributes {
  return {
    kind: oneOf("--kind", flags.kind ?? SAMPLE_ATTRIBUTES.kind, VEHICLE_KINDS),
    colour: oneOf("--colour", flags.colour ?? SAMPLE_ATTRIBUTES.colour, COLOUR_NAMES),
    setting: oneOf("--setting", flags.setting ?? SAMPLE_ATTRIBUTES.setting, SETTINGS),
    style: oneOf("--style", flags.style ?? SAMPLE_ATTRIBUTES.style, STYLES),
  };
}

/** What `fatezero world` writes into its folder: a folder holding only these (with its info) it may replace. */
const WORLD_FOLDER = { frames: "frames", video: "clip.mp4", masks: "masks", info: "world.json" };

/**
 * Write a world clip: frames/*.png, clip.mp4, masks/<thing>/*.png and world.json (seed, attributes, captions).
 * The folder is written whole (an earlier world clip there is replaced, never mixed with the new one).
 */
export async function worldCommand(flags: WorldFlags): Promise<string[]> {
  const seed = seedFlag(flags.seed);
  const attributes = attributesFromFlags(flags);
  const frames = integerFlag("frames", flags.frames, WORLD_FRAMES, 1, 1000);
  const size = integerFlag("size", flags.size, WORLD_SIZE, 16, 2048);
  const out = path.resolve(flags.out);
  const replacing = folderTarget(out, `--out ${flags.out}`, (entries) =>
    entries.includes(WORLD_FOLDER.info) && entries.every((e) => Object.values(WORLD_FOLDER).includes(e))
      ? true
      : "not a clip of fatezero world: give a new or empty folder",
  );
  const world = renderWorldClip(seed, attributes, { frames, size });
  const relative: string[] = [];
  await writeFolder(out, replacing, async (dir) => {
    relative.push(...(await writeFrames(path.join(dir, WORLD_FOLDER.frames), world.clip)).map((f) => path.relative(dir, f)));
    await writeMp4(path.join(dir, WORLD_FOLDER.video), world.clip);
    relative.push(WORLD_FOLDER.video);
    for (const name of MASK_NAMES) {
      fs.mkdirSync(path.join(dir, WORLD_FOLDER.masks, name), { recursive: true });
      const mask = world.masks[name];
      for (let f = 0; f < frames; f++) {
        const pixels = Uint8Array.from(mask.subarray(f * size * size, (f + 1) * size * size), (v) => v * 255); // [H, W]
        const file = path.join(WORLD_FOLDER.masks, name, `${String(f).padStart(5, "0")}.png`);
        await sharp(pixels, { raw: { width: size, height: size, channels: 1 } })
          .png()
          .toFile(path.join(dir, file));
        relative.push(file);
      }
    }
    const info = { seed, attributes, frames, size, captions: world.captions, masks: MASK_NAMES };
    fs.writeFileSync(path.join(dir, WORLD_FOLDER.info), JSON.stringify(info, null, 1) + "\n");
    relative.push(WORLD_FOLDER.info);
  });
  return relative.map((f) => path.join(out, f));
}

/** Flags of `fatezero world-training-data`. */
export interface TrainingDataFlags {
  out: string;
  clips?: string;
  miniature?: boolean;
  gpu?: boolean;
}

/** Write the training set into <out>/data and the untrained model skeleton into <out>/skeleton. */
export function trainingDataCommand(flags: TrainingDataFlags): void {
  const clips = integerFlag("clips", flags.clips, 2000, 1, 1_000_000);
  const out = path.resolve(flags.out);
  checkFolderPath(out, "--out"); // data/ and skeleton/ go beside whatever the folder holds (checkpoints)
  const report = progressReporter();
  const meta = writeTrainingData(path.join(out, "data"), clips, (done, total) => report("world", done, total));
  const vaeWidth = flags.gpu ? GPU_PLAN_VAE_WIDTH : 1;
  const spec = flags.miniature ? miniatureWorldModelSpec(vaeWidth) : worldModelSpec(vaeWidth);
  writeRandomModel(path.join(out, "skeleton"), spec, { overwrite: true });
  console.log(`${meta.frames} frames of ${meta.size}² in ${path.join(out, "data")}; model skeleton in ${path.join(out, "skeleton")}`);
}

/** Flags of `fatezero world-bench`. */
export interface WorldBenchFlags {
  seed?: string;
  clips?: string;
  steps?: string;
  model?: string;
  json?: boolean;
  device?: string;
}

/** Run the ground-truth edit benchmark; prints one JSON line per row (--json) or a table. */
export async function worldBenchCommand(flags: WorldBenchFlags): Promise<void> {
  const seed = flags.seed === undefined ? 1000 : seedFlag(flags.seed);
  const clips = integerFlag("clips", flags.clips, 8, 1, 1000);
  const steps = integerFlag("steps", flags.steps, WORLD_STEPS, 1, 1000);
  if (seed + clips > TRAINING_SEEDS)
    throw new InputError(`--seed ${seed} --clips ${clips}: benchmark seeds must stay below ${TRAINING_SEEDS} (the training clips' seeds)`);
  const device = parseDevice(flags.device ?? "cpu");
  modelFacts(flags.model ?? "world"); // a missing or broken model folder is refused before any clip is rendered
  const model = await loadModel(flags.model ?? "world", { device });
  const rows = await runWorldBench(model, { seed, clips, steps, onProgress: (m) => console.error(m) });
  if (flags.json) {
    for (const row of rows) console.log(JSON.stringify(roundRow(row)));
    return;
  }
  const columns = [
    "edit",
    "attention",
    "blendMask",
    "spatialTemporal",
    "reconPsnr",
    "maskIou",
    "targetPsnr",
    "sourcePsnr",
    "backgroundPsnr",
    "colorAccuracy",
    "flickerRatio",
    "seconds",
  ] as const;
  console.log(columns.join("\t"));
  for (const row of rows.map(roundRow)) console.log(columns.map((c) => String(row[c] ?? "")).join("\t"));
}

function roundRow(row: BenchRow): BenchRow {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v]),
  ) as unknown as BenchRow;
}
