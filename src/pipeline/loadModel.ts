// Opening a model for the pipeline: a diffusers SD 1.x folder as users download it, or "tiny", the
// embedded default, generated once into the cache. Graph sessions are built on first use and cached.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { textEncoderConfig, unetConfig, vaeConfig, type UnetConfig } from "../models/configs";
import { tinyModelSpec } from "../models/modelSpecs";
import { openModelFolder, type ModelFolder } from "../models/modelFolder";
import { RANDOM_MODEL_VERSION, writeRandomModel } from "../models/randomModel";
import { TextEncoder } from "../models/textEncoder";
import { Vae } from "../models/vae";
import { defaultCacheDir, type SessionOptions } from "../onnx/session";
import { DdimScheduler } from "../scheduler/ddim";
import { ClipTokenizer } from "../tokenizer/clipTokenizer";

/** Options for opening a model. */
export interface LoadModelOptions extends SessionOptions {
  /** UNet subfolder, e.g. "unet_tuned" for a Tune-A-Video checkpoint. */
  unetSubfolder?: string;
}

/** A loaded model: its folder, tokenizer, text encoder and VAE sessions, and the UNet's config and weights. */
export interface FateZeroModel {
  dir: string;
  folder: ModelFolder;
  /** Stable identity of configs and weight files, used in cache keys. */
  identity: string;
  tokenizer: ClipTokenizer;
  textEncoder: TextEncoder;
  vae: Vae;
  unetConfig: UnetConfig;
  unetSubfolder: string;
  sessionOptions: SessionOptions;
  /** A fresh DDIM scheduler from the folder's config. */
  scheduler(): DdimScheduler;
}

/** The folder of the embedded tiny model, generated on first use. */
export function ensureTinyModel(cacheDir = defaultCacheDir()): string {
  const spec = tinyModelSpec();
  const tag = crypto.createHash("sha256").update(JSON.stringify([RANDOM_MODEL_VERSION, spec.textEncoder, spec.unet, spec.vae, Object.keys(spec.vocab.vocab).length])).digest("hex").slice(0, 12);
  const dir = path.join(cacheDir, "models", `tiny-${tag}`);
  if (!fs.existsSync(path.join(dir, "model_index.json"))) {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    writeRandomModel(dir, spec, { overwrite: true });
  }
  return dir;
}

/** Open `model` ("tiny" or a diffusers folder) and its text encoder and VAE sessions. */
export async function loadModel(model = "tiny", options: LoadModelOptions = {}): Promise<FateZeroModel> {
  const sessionOptions: SessionOptions = { cacheDir: options.cacheDir, threads: options.threads };
  const dir = model === "tiny" ? ensureTinyModel(options.cacheDir) : path.resolve(model);
  const unetSubfolder = options.unetSubfolder ?? "unet";
  const folder = openModelFolder(dir, { unetSubfolder });
  const te = folder.textEncoder;
  const [textEncoder, vae] = await Promise.all([
    TextEncoder.load(textEncoderConfig(te.config, path.join(te.dir, "config.json")), te.weights, sessionOptions),
    Vae.load(vaeConfig(folder.vae.config, path.join(folder.vae.dir, "config.json")), folder.vae.weights, sessionOptions),
  ]);
  return {
    dir,
    folder,
    identity: modelIdentity(folder),
    tokenizer: ClipTokenizer.fromFolder(folder.tokenizerDir),
    textEncoder,
    vae,
    unetConfig: unetConfig(folder.unet.config, path.join(folder.unet.dir, "config.json")),
    unetSubfolder,
    sessionOptions,
    scheduler: () => DdimScheduler.fromConfigFile(folder.schedulerConfigPath),
  };
}

/** Hash of every config and of each weight file's path, size and modification time. */
export function modelIdentity(folder: ModelFolder): string {
  const h = crypto.createHash("sha256");
  for (const c of [folder.textEncoder, folder.unet, folder.vae]) {
    h.update(JSON.stringify(c.config));
    for (const f of c.weights.files) {
      const st = fs.statSync(f.path);
      h.update(`\0${fs.realpathSync(f.path)}\0${st.size}\0${st.mtimeMs}`);
    }
  }
  h.update(fs.readFileSync(folder.schedulerConfigPath));
  return h.digest("hex").slice(0, 32);
}

/** Text embeddings [B, 77, D] of prompts, warning (as CLIP does) when a prompt is truncated. */
export async function encodePrompts(model: FateZeroModel, prompts: string[], warn: (message: string) => void = console.warn): Promise<Float32Array> {
  const rows = prompts.map((p) => {
    const t = model.tokenizer.tokenize(p);
    if (t.truncated) warn(`prompt truncated to ${model.tokenizer.maxLength} tokens (CLIP's limit): "${p}"`);
    return t.ids;
  });
  return model.textEncoder.encode(rows);
}
