// `fatezero world`: one world clip with its captions and ground-truth masks; `fatezero world-training-data`:
// the training set and the model skeleton the trainer (train/) fills with weights; `fatezero world-bench`:
// the ground-truth edit benchmark.
import { constants } from "node:buffer";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import sharp from "sharp";
import { unetConfig } from "../src/networks/configs";
import { writeRandomModelFiles } from "../src/networks/randomModel";
import { checkFreeSpace, outputFolder, writeFolder, writeFolderSync } from "../src/util/folderOutput";
import { InputError } from "../src/util/inputError";
import { writeFrameFiles, writeMp4 } from "../src/video/writeVideo";
import { MAX_SEED } from "../src/world/layout";
import { TRAINING_DATA_WRITER, TRAINING_SEEDS, trainingDataBytes, writeTrainingData } from "../src/world/trainingData";
import { MAX_FRAMES, MAX_GUIDANCE_SCALE, MAX_INVERSION_ITERATIONS, MAX_SIZE, MAX_STEPS } from "../src/config/limits";
import { attentionSites, defaultUnetBuild } from "../src/fatezero/attentionSites";
import { NEGATIVE_PROMPTS, UNET_PRECISIONS } from "../src/fatezero/editOptions";
import { FATEZERO_INVERSION_ITERATIONS } from "../src/fatezero/invertVideo";
import { loadModel, modelFacts } from "../src/fatezero/loadModel";
import { checkDevice, chosenDevice } from "../src/onnx/device";
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
import { renderWorldClip, WORLD_FRAMES, WORLD_SIZE, worldClipMemory } from "../src/world/worldClip";
import { GPU_PLAN_VAE_WIDTH, miniatureWorldModelSpec, WORLD_STEPS, worldModelSpec } from "../src/world/worldModel";
import { integerFlag, numberFlag } from "./flagValues";
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

/** What `fatezero world` writes into its folder; the manifest names the writer, so only its own clips are replaced. */
const WORLD_FOLDER = { frames: "frames", video: "clip.mp4", masks: "masks", info: "world.json" };
const WORLD_WRITER = "fatezero world";

/**
 * Write a world clip: frames/*.png, clip.mp4, masks/<thing>/*.png and world.json (seed, attributes, captions).
 * The folder is written whole; an earlier clip there is replaced only when every file in it is one this
 * command wrote, unchanged (util/folderOutput.ts).
 */
export async function worldCommand(flags: WorldFlags): Promise<string[]> {
  const seed = seedFlag(flags.seed);
  const attributes = attributesFromFlags(flags);
  const frames = integerFlag("frames", flags.frames, 1, MAX_FRAMES) ?? WORLD_FRAMES;
  const size = integerFlag("size", flags.size, 16, MAX_SIZE) ?? WORLD_SIZE;
  checkWorldMemory(frames, size);
  const out = outputFolder(flags.out, "--out", WORLD_WRITER);
  const world = renderWorldClip(seed, attributes, { frames, size });
  const relative: string[] = [];
  await writeFolder(out, async (dir) => {
    relative.push(
      ...(await writeFrameFiles(path.join(dir, WORLD_FOLDER.frames), world.clip)).map((f) => path.join(WORLD_FOLDER.frames, f)),
    );
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
  return relative.map((f) => path.join(out.target, f));
}

/** Say what rendering `frames` frames at `size`² takes; refuse (before rendering) what the machine or one array cannot hold. */
function checkWorldMemory(frames: number, size: number): void {
  const { peakBytes, largestArray } = worldClipMemory(frames, size);
  const gb = (b: number) => `${(b / 2 ** 30).toFixed(1)} GB`;
  const asked = `--frames ${frames} --size ${size}`;
  if (largestArray > constants.MAX_LENGTH)
    throw new InputError(
      `${asked}: the renderer's label votes need one array of ${gb(largestArray)}, past the ${gb(constants.MAX_LENGTH)} one may hold: use fewer frames or a smaller --size`,
    );
  if (peakBytes > os.totalmem())
    throw new InputError(
      `${asked}: rendering needs about ${gb(peakBytes)} of memory, this machine has ${gb(os.totalmem())}: use fewer frames or a smaller --size`,
    );
  console.error(`memory: about ${gb(peakBytes)} at the peak (this machine: ${gb(os.totalmem())})`);
}

/** Flags of `fatezero world-training-data`. */
export interface TrainingDataFlags {
  out: string;
  clips?: string;
  miniature?: boolean;
  gpu?: boolean;
}

/**
 * Write the training set into <out>/data and the untrained model skeleton into <out>/skeleton: <out> is written
 * whole (one rename publishes data and skeleton together) after a check that its disk has room, and replaces
 * only an earlier export of this command, unchanged; the trainer's checkpoints go beside them afterwards.
 */
export function trainingDataCommand(flags: TrainingDataFlags): void {
  const clips = integerFlag("clips", flags.clips, 1, 1_000_000) ?? 2000;
  const out = outputFolder(flags.out, "--out", TRAINING_DATA_WRITER);
  const vaeWidth = flags.gpu ? GPU_PLAN_VAE_WIDTH : 1;
  const spec = flags.miniature ? miniatureWorldModelSpec(vaeWidth) : worldModelSpec(vaeWidth);
  // The skeleton is at most 49 MB (the gpu plan's, fp32): 64 MB covers it, the configs and the manifest.
  checkFreeSpace(out.target, trainingDataBytes(clips, spec) + 64 * 2 ** 20, `--clips ${clips} --out ${flags.out}`);
  const report = progressReporter();
  // The attention term follows the layers an edit with FateZero's defaults controls and masks with.
  const sites = (latent: [number, number]) => attentionSites(unetConfig(spec.unet), defaultUnetBuild(latent));
  const meta = writeFolderSync(out, (dir) => {
    writeRandomModelFiles(path.join(dir, "skeleton"), spec);
    return writeTrainingData(path.join(dir, "data"), clips, { spec, attentionSites: sites }, (done, total) => report("world", done, total));
  });
  const data = path.join(out.target, "data");
  console.log(`${meta.frames} frames of ${meta.size}² in ${data}; model skeleton in ${path.join(out.target, "skeleton")}`);
}

/** Flags of `fatezero world-bench`. */
export interface WorldBenchFlags {
  seed?: string;
  clips?: string;
  steps?: string;
  inversionIterations?: string;
  precision?: string;
  guidance?: string;
  negativePrompt?: string;
  model?: string;
  json?: boolean;
  device?: string;
}

/** Run the ground-truth edit benchmark; prints one JSON line per row (--json) or a table. */
export async function worldBenchCommand(flags: WorldBenchFlags): Promise<void> {
  const seed = flags.seed === undefined ? 1000 : seedFlag(flags.seed);
  const clips = integerFlag("clips", flags.clips, 1, 1000) ?? 8;
  const steps = integerFlag("steps", flags.steps, 1, MAX_STEPS) ?? WORLD_STEPS;
  const inversionIterations =
    integerFlag("inversion-iterations", flags.inversionIterations, 0, MAX_INVERSION_ITERATIONS) ?? FATEZERO_INVERSION_ITERATIONS;
  const unetPrecision = flags.precision === undefined ? undefined : oneOf("--precision", flags.precision, UNET_PRECISIONS);
  if (seed + clips > TRAINING_SEEDS)
    throw new InputError(`--seed ${seed} --clips ${clips}: benchmark seeds must stay below ${TRAINING_SEEDS} (the training clips' seeds)`);
  const { device, named } = chosenDevice(flags.device);
  checkDevice(device, named);
  // Unset, each is the model's default (modelEditDefaults).
  const guidance = {
    ...(flags.guidance === undefined ? {} : { guidanceScale: numberFlag("guidance", flags.guidance, 0, MAX_GUIDANCE_SCALE) }),
    ...(flags.negativePrompt === undefined ? {} : { negativePrompt: oneOf("--negative-prompt", flags.negativePrompt, NEGATIVE_PROMPTS) }),
  };
  modelFacts(flags.model ?? "world"); // a missing or broken model folder is refused before any clip is rendered
  const model = await loadModel(flags.model ?? "world", { device });
  const rows = await runWorldBench(model, {
    seed,
    clips,
    steps,
    inversionIterations,
    unetPrecision,
    guidance,
    onProgress: (m) => console.error(m),
  });
  if (flags.json) {
    for (const row of rows) console.log(JSON.stringify(roundRow(row)));
    return;
  }
  const columns = [
    "edit",
    "attention",
    "blendMask",
    "spatialTemporal",
    "inversionIterations",
    "unetPrecision",
    "guidanceScale",
    "negativePrompt",
    "reconPsnr",
    "maskIou",
    "targetPsnr",
    "sourcePsnr",
    "backgroundPsnr",
    "colorAccuracy",
    "flickerRatio",
    "vsFp32Psnr",
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
