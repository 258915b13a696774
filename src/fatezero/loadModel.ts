// Opening a model for the pipeline: a diffusers SD 1.x folder as users download it, "world" (the trained
// world model committed in models/world/) or "tiny" (random weights, generated once into the cache, for
// numerical tests). Graph sessions are built on first use and cached.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { textEncoderConfig, unetConfig, vaeConfig, vaeFactor, type UnetConfig } from "../networks/configs";
import type { UnetShape } from "../networks/unet";
import { tinyModelSpec } from "../networks/modelSpecs";
import { openModelFolder, PICKLE_EXTENSIONS, type ModelFolder } from "../networks/modelFolder";
import { isSingleFile, openSingleFile, withSingleFileWeights, type SingleFileOptions } from "../networks/singleFile";
import { RANDOM_MODEL_VERSION, recordParameters, SD_SCHEDULER_CONFIG, writeRandomModel } from "../networks/randomModel";
import { pickleConversionAdvice } from "../checkpoint/safetensors";
import type { WeightSet } from "../checkpoint/weightSet";
import { TextEncoder } from "../networks/textEncoder";
import { Vae } from "../networks/vae";
import { checkDevice, type Device } from "../onnx/device";
import { defaultCacheDir, type SessionOptions } from "../onnx/session";
import { storeWeights } from "../onnx/weightStore";
import { DdimScheduler } from "../scheduler/ddim";
import { ClipTokenizer } from "../tokenizer/clipTokenizer";
import { markedCacheFolder } from "../util/cacheDir";
import { fileKind } from "../util/fileKind";
import { asInputSync, InputError } from "../util/inputError";
import { WORLD_MODEL_DIR } from "../world/worldModel";
import type { EditLoopOptions } from "./editOptions";
import { modelEditDefaults } from "./modelDefaults";

/** Options for opening a model. */
export interface LoadModelOptions extends SessionOptions, SingleFileOptions {
  /** UNet subfolder, e.g. "unet_tuned" for a Tune-A-Video checkpoint. */
  unetSubfolder?: string;
  /** A model folder's text encoder, VAE and "unet" weights from this single-file checkpoint instead (configs stay the folder's). */
  weightsFile?: string;
}

/** The model's shape facts, from its configs: every stage derives its sizes from these. */
export interface ModelDims {
  /** Text tokens per prompt (the tokenizer's and text encoder's context length). */
  tokens: number;
  /** Image pixels per latent pixel along each side: 2^(VAE levels − 1). */
  vaeFactor: number;
  /** Channels of a latent (the VAE's latent_channels, the UNet's in_channels). */
  latentChannels: number;
}

/** A loaded model: its folder, tokenizer, text encoder and VAE sessions, and the UNet's config and weights. */
export interface FateZeroModel {
  dir: string;
  dims: ModelDims;
  folder: ModelFolder;
  /** Stable identity of configs and weight files, used in cache keys. */
  identity: string;
  tokenizer: ClipTokenizer;
  textEncoder: TextEncoder;
  vae: Vae;
  unetConfig: UnetConfig;
  unetSubfolder: string;
  sessionOptions: SessionOptions;
  /** The editing loop's defaults this model asks for over FateZero's (see modelEditDefaults). */
  editDefaults: Partial<EditLoopOptions>;
  /** A fresh DDIM scheduler from the folder's config. */
  scheduler(): DdimScheduler;
}

/** The folder of the embedded tiny model, generated on first use. */
export function ensureTinyModel(cacheDir = defaultCacheDir()): string {
  const spec = tinyModelSpec();
  const tag = crypto
    .createHash("sha256")
    .update(JSON.stringify([RANDOM_MODEL_VERSION, spec.textEncoder, spec.unet, spec.vae, Object.keys(spec.vocab.vocab).length]))
    .digest("hex")
    .slice(0, 12);
  const dir = path.join(markedCacheFolder(cacheDir, true), "models", `tiny-${tag}`);
  if (!fs.existsSync(path.join(dir, "model_index.json"))) {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    writeRandomModel(dir, spec, { overwrite: true });
  }
  return dir;
}

/** What a plan needs to know of a model before loading it: its UNet's blocks, its VAE factor and its frame size. */
export interface ModelShape {
  unet: UnetShape;
  vaeFactor: number;
  /** The frame side the model was trained at: its UNet's sample_size times the VAE factor (SD 1.x: 512). */
  nativeSize: number;
}

/** Frame sides must be multiples of this: the 1/vaeFactor latent is halved once per UNet level but the last. */
export function frameSizeUnit(vaeFactor: number, unet: Pick<UnetShape, "blockOutChannels">): number {
  return vaeFactor * 2 ** (unet.blockOutChannels.length - 1);
}

/** What checking a plan needs to know of a model: its shape, tokenizer, schedule length and weight size. */
export interface ModelFacts extends ModelShape {
  tokenizer: ClipTokenizer;
  /** The scheduler's training timesteps: the most DDIM steps that are all distinct. */
  trainTimesteps: number;
  /** The weights' size as float32, bytes. */
  weightBytes: number;
  /** The model's weight files (none for the tiny model, which is generated when first loaded). */
  files: string[];
  /** The editing loop's defaults this model asks for over FateZero's (see modelEditDefaults). */
  editDefaults: Partial<EditLoopOptions>;
}

/**
 * The facts of "world", "tiny", a model folder or a single file, read from configs and weight headers (no
 * tensor data). Configs are checked against the weights here, so a mismatch is bad input found before any work.
 */
export function modelFacts(model: string, options: SingleFileOptions = {}): ModelFacts {
  const spec = model === "tiny" ? tinyModelSpec() : undefined;
  const folder = spec ? undefined : asInputSync(() => openModel(modelDir(model), options));
  const configs = spec ?? { textEncoder: folder!.textEncoder.config, unet: folder!.unet.config, vae: folder!.vae.config };
  const where = (part: string) => (folder ? path.join(folder.root, part, "config.json") : `tiny model ${part}`);
  const unet = asInputSync(() => unetConfig(configs.unet, where("unet")));
  const vae = asInputSync(() => vaeConfig(configs.vae, where("vae")));
  const factor = vaeFactor(vae);
  asInputSync(() => textEncoderConfig(configs.textEncoder, where("text_encoder")));
  const params = asInputSync(() => recordParameters(configs));
  let weightBytes = 0;
  for (const [part, wanted] of [
    ["text_encoder", params.textEncoder],
    ["unet", params.unet],
    ["vae", params.vae],
  ] as const) {
    for (const shape of wanted.values()) weightBytes += 4 * shape.reduce((a, b) => a * b, 1);
    const weights = folder?.[part === "text_encoder" ? "textEncoder" : part].weights;
    if (weights) checkWeights(weights, wanted, where(part));
  }
  const scheduler = asInputSync(() =>
    spec ? new DdimScheduler(SD_SCHEDULER_CONFIG) : DdimScheduler.fromConfig(folder!.schedulerConfig, folder!.schedulerConfigPath),
  );
  return {
    unet,
    vaeFactor: factor,
    nativeSize: unet.sampleSize * factor,
    tokenizer: ClipTokenizer.fromFiles(spec ? spec.vocab : folder!.vocab),
    trainTimesteps: scheduler.config.numTrainTimesteps,
    weightBytes,
    editDefaults: modelEditDefaults(folder),
    files: folder ? [...new Set([folder.textEncoder, folder.unet, folder.vae].flatMap((c) => c.weights.files.map((f) => f.path)))] : [],
  };
}

/** Every parameter the configs need is in the weights with exactly its shape (fp16 and bf16 are fine). */
function checkWeights(weights: WeightSet, wanted: ReadonlyMap<string, number[]>, configFile: string): void {
  for (const [name, shape] of wanted) {
    if (!weights.has(name)) throw new InputError(`${weights.dir}: no tensor "${name}", which ${configFile} needs`);
    const have = weights.shape(name);
    if (have.join() !== shape.join()) {
      throw new InputError(`${weights.dir}: tensor "${name}" has shape [${have.join(", ")}], ${configFile} needs [${shape.join(", ")}]`);
    }
  }
}

/** The models known by name rather than path. */
export const EMBEDDED_MODELS: readonly string[] = ["world", "tiny"];

/** The folder of a model name: "world", "tiny" (generated on first use) or a path. */
export function modelDir(model: string, cacheDir?: string): string {
  if (model === "tiny") return ensureTinyModel(cacheDir);
  if (model === "world") {
    if (!fs.existsSync(path.join(WORLD_MODEL_DIR, "model_index.json")))
      throw new InputError(`the world model is missing from ${WORLD_MODEL_DIR} (npm run train:world writes it)`);
    return WORLD_MODEL_DIR;
  }
  return path.resolve(model);
}

/** Open a model's configs and weights: a diffusers folder, or a single-file checkpoint (.safetensors). */
export function openModel(
  dir: string,
  options: Pick<LoadModelOptions, "unetSubfolder" | "modelConfig" | "ema" | "weightsFile"> = {},
): ModelFolder {
  if (options.weightsFile !== undefined) {
    if (!isSingleFile(options.weightsFile)) throw new InputError(`--weights ${options.weightsFile}: not a .safetensors file`);
    if (!fs.existsSync(options.weightsFile)) throw new InputError(`--weights ${options.weightsFile}: no such file`);
    const subfolder = options.unetSubfolder ?? "unet";
    return withSingleFileWeights(openModelFolder(dir, { unetSubfolder: subfolder }), options.weightsFile, {
      ema: options.ema,
      keepUnet: subfolder !== "unet",
    });
  }
  const stats = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stats && isSingleFile(dir)) throw new InputError(`model file ${dir} does not exist`);
  if (!stats || stats.isDirectory()) {
    if (options.modelConfig !== undefined || options.ema)
      throw new InputError(`${dir}: --model-config and --ema apply to single-file checkpoints (.safetensors), not to model folders`);
    return openModelFolder(dir, { unetSubfolder: options.unetSubfolder });
  }
  const give = "give a diffusers model folder or a single-file .safetensors checkpoint";
  const ext = path.extname(dir);
  if (PICKLE_EXTENSIONS.includes(ext.toLowerCase())) {
    const converted = `${dir.slice(0, -ext.length)}.safetensors`;
    throw new InputError(`model ${dir} is a PyTorch pickle checkpoint. ${pickleConversionAdvice(dir, converted)}, then give ${converted}`);
  }
  if (!stats.isFile()) throw new InputError(`model ${dir} is ${fileKind(stats)}: ${give}`);
  if (!isSingleFile(dir)) throw new InputError(`model ${dir} is a file but not a .safetensors checkpoint: ${give}`);
  if (options.unetSubfolder && options.unetSubfolder !== "unet")
    throw new InputError(`${dir}: a single file has one UNet; a UNet subfolder (${options.unetSubfolder}) needs a model folder`);
  return openSingleFile(dir, options);
}

/** Open `model` ("world", "tiny", a diffusers folder or a single .safetensors file) and its text encoder and VAE sessions. */
export async function loadModel(model = "world", options: LoadModelOptions = {}): Promise<FateZeroModel> {
  const sessionOptions: SessionOptions = { cacheDir: options.cacheDir, threads: options.threads, device: options.device ?? "cpu" };
  const dir = modelDir(model, options.cacheDir);
  reportDevice(sessionOptions.device!);
  const unetSubfolder = options.unetSubfolder ?? "unet";
  const folder = openModel(dir, options);
  const te = folder.textEncoder;
  const textConfig = textEncoderConfig(te.config, path.join(te.dir, "config.json"));
  const [textEncoder, vae] = await Promise.all([
    TextEncoder.load(textConfig, te.weights, sessionOptions),
    Vae.load(vaeConfig(folder.vae.config, path.join(folder.vae.dir, "config.json")), folder.vae.weights, sessionOptions),
  ]);
  const tokenizer = ClipTokenizer.fromFiles(folder.vocab);
  const unet = unetConfig(folder.unet.config, path.join(folder.unet.dir, "config.json"));
  if (textConfig.maxPositions < tokenizer.maxLength)
    throw new InputError(
      `${te.dir}/config.json: max_position_embeddings ${textConfig.maxPositions} is below the tokenizer's ${tokenizer.maxLength} tokens`,
    );
  if (unet.inChannels !== vae.config.latentChannels)
    throw new InputError(
      `${folder.unet.dir}/config.json: in_channels ${unet.inChannels} differs from the VAE's latent_channels ${vae.config.latentChannels}`,
    );
  return {
    dir,
    dims: { tokens: tokenizer.maxLength, vaeFactor: vae.factor, latentChannels: vae.config.latentChannels },
    folder,
    identity: modelIdentity(folder, options.cacheDir),
    tokenizer,
    textEncoder,
    vae,
    unetConfig: unet,
    unetSubfolder,
    sessionOptions,
    editDefaults: modelEditDefaults(folder),
    scheduler: () => DdimScheduler.fromConfig(folder.schedulerConfig, folder.schedulerConfigPath),
  };
}

const reported = new Set<Device>();

/** Check the device and say once per process what a GPU run runs on. */
function reportDevice(device: Device): void {
  const description = checkDevice(device);
  if (device !== "cpu" && !reported.has(device)) {
    reported.add(device);
    console.error(`device: ${description}`);
  }
}

/**
 * Hash of every config, the tokenizer, which stored tensors each component reads, and the content of each
 * weight file (its sha256, computed once per file version by the cache's weight store).
 */
export function modelIdentity(folder: ModelFolder, cacheDir = defaultCacheDir()): string {
  const h = crypto.createHash("sha256");
  for (const c of [folder.textEncoder, folder.unet, folder.vae]) {
    h.update(JSON.stringify(c.config));
    h.update(
      c.weights
        .names()
        .map((n) => c.weights.locate(n).stored)
        .join("\0"),
    );
    for (const f of c.weights.files) h.update(`\0${storeWeights(f.path, cacheDir).sha256}`);
  }
  h.update(JSON.stringify(folder.schedulerConfig));
  h.update(JSON.stringify(folder.vocab));
  return h.digest("hex").slice(0, 32);
}

/** Text embeddings [B, T, D] of prompts, warning (as CLIP does) when a prompt is truncated. */
export async function encodePrompts(
  model: FateZeroModel,
  prompts: string[],
  warn: (message: string) => void = console.warn,
): Promise<Float32Array> {
  const rows = prompts.map((p) => {
    const t = model.tokenizer.tokenize(p);
    if (t.truncated) warn(`prompt truncated to ${model.tokenizer.maxLength} tokens (CLIP's limit): "${p}"`);
    return t.ids;
  });
  return model.textEncoder.encode(rows);
}
