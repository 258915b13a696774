// Deterministic random-weight SD 1.x pipelines in the diffusers folder layout: what the tests, notebooks and
// benches run on, since no real weights can be downloaded here. The parameter list is whatever the graph
// builders ask for (recorded, never written out by hand), so the folder always matches the architecture the
// runtime builds. Every value depends only on (seed, component/name): each tensor seeds its own generator from
// a hash of its name, so files are bit-identical on any machine and in any generation order, and only one
// tensor is ever held in memory (a full-size SD 1.5 UNet is 3.4 GB).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RecordingWeights } from "../onnx/weightSource";
import { outputFolder, writeFolderSync } from "../util/folderOutput";
import { CLIP_TOKENS } from "../tokenizer/clipTokenizer";
import { END_OF_TEXT, START_OF_TEXT, type ClipVocabFiles } from "../tokenizer/clipVocab";
import { textEncoderConfig, unetConfig, vaeConfig } from "./configs";
import { writeSafetensors, type TensorToWrite } from "../checkpoint/safetensors";
import { buildTextEncoderGraph } from "./textEncoder";
import { buildUnetGraph } from "./unet";
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from "./vae";

type Json = Record<string, unknown>;

/** Raw config.json objects of the three networks plus the tokenizer files: everything a random model needs. */
export interface RandomModelSpec {
  textEncoder: Json;
  unet: Json;
  vae: Json;
  vocab: ClipVocabFiles;
  /** Facts stored under model_index.json's `_fatezero` key (e.g. which vocabulary was used). */
  provenance?: Json;
}

/** Choices for writeRandomModel. */
export interface RandomModelOptions {
  /** Non-negative safe integer; the same seed and spec give the same bytes. */
  seed?: number;
  /** Replace a non-empty existing folder (refused otherwise). */
  overwrite?: boolean;
  /** Called as each tensor is produced, with the tensor bytes produced so far and in all. */
  onProgress?: (done: number, total: number) => void;
}

/** Parameter name → shape for each network, as the graph builders request them. */
export interface ModelParameters {
  textEncoder: Map<string, number[]>;
  unet: Map<string, number[]>;
  vae: Map<string, number[]>;
}

/** Seed used when none is given. */
export const DEFAULT_RANDOM_MODEL_SEED = 0;

// Init constants, chosen to resemble the reference fixture's weights (measured from its safetensors).
/** Token embeddings: torch's nn.Embedding default N(0, 1), as in the fixture. */
const TOKEN_EMBEDDING_STD = 1;
/** Position embeddings at half the token scale, as in the fixture (std 0.5). */
const POSITION_EMBEDDING_STD = 0.5;
/** Norm weights 1 + N(0, σ) and biases N(0, σ): perturbed so norms are not the identity (fixture σ ≈ 0.1). */
const NORM_NOISE_STD = 0.1;
/** Query/key projections are scaled so attention maps are not near-uniform and fusion edits are visible. */
const QUERY_KEY_SCALE = 2;
/**
 * Scale of the UNet's output convolution. Random weights make the noise prediction a chaotic function of the
 * latent, so DDIM inversion would not invert (relative reconstruction error ≈ 1); a gentler prediction, as a
 * trained model's is, makes inversion + reconstruction return z0 to a few percent while prompts still matter.
 */
const NOISE_OUTPUT_SCALE = 0.1;
/** Bumped whenever generated values change, so cached generated models are rebuilt. */
export const RANDOM_MODEL_VERSION = 2;
/** Scale of the posterior-mean rows of quant_conv, so that 0.18215·z has std ≈ 1 as in SD (undone in post_quant_conv). */
const POSTERIOR_MEAN_SCALE = 18;
/** The posterior log-variance rows are damped and shifted so std ≈ e⁻² ≈ 0.14, small next to the mean, as in SD. */
const LOGVAR_SCALE = 0.1;
const LOGVAR_SHIFT = -4;

/** The checkpoint layout we write: diffusers 0.11 VAE attention names (query/key/value/proj_attn), no temporal UNet parts. */
const LEGACY_VAE_ATTENTION = /^(en|de)coder\.mid_block\.attentions\.\d+\.query\.weight$/;

/** Record every parameter the text encoder, 2D UNet and VAE graphs of these configs use. */
export function recordParameters(spec: Pick<RandomModelSpec, "textEncoder" | "unet" | "vae">): ModelParameters {
  const present = (name: string) => LEGACY_VAE_ATTENTION.test(name);
  const text = new RecordingWeights(present);
  buildTextEncoderGraph(textEncoderConfig(spec.textEncoder), text);
  const unet = new RecordingWeights(present);
  buildUnetGraph(unetConfig(spec.unet), unet);
  const vae = new RecordingWeights(present);
  const vc = vaeConfig(spec.vae);
  buildVaeEncoderGraph(vc, vae);
  buildVaeDecoderGraph(vc, vae);
  return { textEncoder: text.requested, unet: unet.requested, vae: vae.requested };
}

/** Number of values in a parameter map. */
export function parameterCount(params: ReadonlyMap<string, number[]>): number {
  let n = 0;
  for (const shape of params.values()) n += elements(shape);
  return n;
}

/** What a random model folder's manifest names as its writer. */
export const RANDOM_MODEL_WRITER = "fatezero's random model writer";

/**
 * Write a complete random-weight diffusers SD 1.x folder at `dir`, atomically (built beside it, then renamed);
 * with `overwrite`, an earlier random model there (verified by its manifest) is replaced.
 */
export function writeRandomModel(dir: string, spec: RandomModelSpec, options: RandomModelOptions = {}): void {
  const out = outputFolder(
    dir,
    "random model",
    RANDOM_MODEL_WRITER,
    options.overwrite ? {} : { refuseFull: "overwrite (--overwrite) replaces it" },
  );
  writeFolderSync(out, (staging) => writeRandomModelFiles(staging, spec, options));
}

/** Write a random model's files into the new folder `dir`, which the caller publishes (see writeRandomModel). */
export function writeRandomModelFiles(dir: string, spec: RandomModelSpec, options: Omit<RandomModelOptions, "overwrite"> = {}): void {
  const seed = options.seed ?? DEFAULT_RANDOM_MODEL_SEED;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`random model: seed must be a non-negative safe integer, got ${seed}`);
  // Float32Array bytes go to the file as they are; safetensors is little-endian.
  if (os.endianness() !== "LE") throw new Error("random model: writing safetensors needs a little-endian machine");
  const params = recordParameters(spec);
  checkVocabulary(spec);

  const text = spec.textEncoder;
  const maxPositions = textEncoderConfig(text).maxPositions;
  const files: [string, TensorToWrite[]][] = [
    ["text_encoder/model.safetensors", [...randomTensors(seed, "text_encoder", params.textEncoder), positionIds(maxPositions)]],
    ["unet/diffusion_pytorch_model.safetensors", randomTensors(seed, "unet", params.unet)],
    ["vae/diffusion_pytorch_model.safetensors", randomTensors(seed, "vae", params.vae)],
  ];
  const total = files.reduce((sum, [, list]) => sum + list.reduce((s, t) => s + tensorBytes(t), 0), 0);
  let done = 0;
  const report = (t: TensorToWrite): TensorToWrite => ({
    ...t,
    data: () => {
      const bytes = t.data();
      done += bytes.byteLength;
      options.onProgress?.(done, total);
      return bytes;
    },
  });

  const name = typeof text._name_or_path === "string" ? text._name_or_path : "fatezero-random";
  writeJson(path.join(dir, "model_index.json"), modelIndex(seed, spec.provenance ?? {}));
  writeJson(path.join(dir, "scheduler", "scheduler_config.json"), SD_SCHEDULER_CONFIG);
  writeJson(path.join(dir, "tokenizer", "vocab.json"), spec.vocab.vocab, false);
  fs.writeFileSync(path.join(dir, "tokenizer", "merges.txt"), spec.vocab.merges);
  writeJson(path.join(dir, "tokenizer", "special_tokens_map.json"), specialTokensMap());
  writeJson(path.join(dir, "tokenizer", "tokenizer_config.json"), tokenizerConfig(name));
  writeJson(path.join(dir, "text_encoder", "config.json"), spec.textEncoder);
  writeJson(path.join(dir, "unet", "config.json"), spec.unet);
  writeJson(path.join(dir, "vae", "config.json"), spec.vae);
  for (const [file, tensors] of files) writeSafetensors(path.join(dir, file), tensors.map(report), { format: "pt" });
}

/** The random tensors of one component, sorted by name as torch-saved safetensors files are. */
function randomTensors(seed: number, component: string, params: ReadonlyMap<string, number[]>): TensorToWrite[] {
  return [...params.keys()].sort().map((name) => {
    const shape = params.get(name)!;
    return {
      name,
      dtype: "F32",
      shape,
      data: () => {
        const v = parameterValues(seed, component, name, shape, params);
        return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      },
    };
  });
}

/** The int64 position_ids buffer [1, L] = 0..L−1 that HF CLIPTextModel checkpoints carry. */
function positionIds(length: number): TensorToWrite {
  return {
    name: "text_model.embeddings.position_ids",
    dtype: "I64",
    shape: [1, length],
    data: () => {
      const ids = BigInt64Array.from({ length }, (_, i) => BigInt(i)); // [1, L]
      return new Uint8Array(ids.buffer);
    },
  };
}

/** Values of one parameter, from its own generator: torch-default init plus the fixture's adjustments. */
export function parameterValues(
  seed: number,
  component: string,
  name: string,
  shape: number[],
  params: ReadonlyMap<string, number[]>,
): Float32Array {
  const rng = new TensorRandom(seed, `${component}/${name}`);
  const out = new Float32Array(elements(shape)); // same shape as the parameter
  const dot = name.lastIndexOf(".");
  const module = name.slice(0, dot);
  const leaf = name.slice(dot + 1);
  const last = module.slice(module.lastIndexOf(".") + 1);
  if (leaf === "weight" && last.endsWith("_embedding")) {
    const std = last === "position_embedding" ? POSITION_EMBEDDING_STD : TOKEN_EMBEDDING_STD;
    for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
  } else if (shape.length === 1 && last.includes("norm")) {
    const center = leaf === "weight" ? 1 : 0;
    for (let i = 0; i < out.length; i++) out[i] = center + NORM_NOISE_STD * rng.normal();
  } else {
    // torch's Linear/Conv default: weight and bias uniform(±1/√fan_in), fan_in from the weight's shape.
    const weight = params.get(`${module}.weight`);
    if (!weight || weight.length < 2 || (leaf !== "weight" && leaf !== "bias")) {
      throw new Error(`random model: no initialisation rule for ${component} parameter "${name}" [${shape.join(", ")}]`);
    }
    const bound = 1 / Math.sqrt(elements(weight.slice(1)));
    const scale = ["to_q", "to_k", "q_proj", "k_proj"].includes(last) ? QUERY_KEY_SCALE : 1;
    for (let i = 0; i < out.length; i++) out[i] = scale * bound * (2 * rng.uniform() - 1);
  }
  if (component === "unet" && module === "conv_out") for (let i = 0; i < out.length; i++) out[i] *= NOISE_OUTPUT_SCALE;
  if (component === "vae" && module === "quant_conv") scalePosteriorRows(out, shape, leaf === "bias");
  // post_quant_conv's inputs are exactly the latent (posterior-mean) channels: undo their scale.
  if (component === "vae" && name === "post_quant_conv.weight") for (let i = 0; i < out.length; i++) out[i] /= POSTERIOR_MEAN_SCALE;
  return out;
}

/** quant_conv outputs [mean (L rows) | logvar (L rows)]: scale the mean rows up, damp and shift the logvar rows. */
function scalePosteriorRows(values: Float32Array, shape: number[], isBias: boolean): void {
  const rows = shape[0];
  const rowSize = values.length / rows;
  for (let r = 0; r < rows; r++) {
    const isMean = r < rows / 2;
    for (let i = r * rowSize; i < (r + 1) * rowSize; i++) {
      values[i] = isMean ? values[i] * POSTERIOR_MEAN_SCALE : values[i] * LOGVAR_SCALE + (isBias ? LOGVAR_SHIFT : 0);
    }
  }
}

/**
 * xoshiro128** seeded through splitmix32 from a 64-bit hash of (seed, key): one independent stream per
 * tensor. Only 32-bit integer arithmetic, exact float64 steps and fdlibm-based Math.log/cos/sin are used,
 * so the stream is the same on every machine.
 */
class TensorRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(seed: number, key: string) {
    let h1 = 0xdeadbeef ^ (seed >>> 0);
    let h2 = 0x41c6ce57 ^ Math.floor(seed / 2 ** 32);
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    let state = h1 ^ Math.imul(h2, 0x9e3779b9);
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
    this.s2 = splitmix();
    this.s3 = splitmix();
  }

  /** Next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function tensorBytes(t: TensorToWrite): number {
  return elements(t.shape) * (t.dtype === "I64" ? 8 : 4);
}

/** Every vocabulary id must index a row of the token embedding, and the specials must exist. */
function checkVocabulary(spec: RandomModelSpec): void {
  const size = textEncoderConfig(spec.textEncoder).vocabSize;
  for (const special of [START_OF_TEXT, END_OF_TEXT]) {
    if (!Object.hasOwn(spec.vocab.vocab, special)) throw new Error(`random model: the vocabulary has no ${special}`);
  }
  for (const [token, id] of Object.entries(spec.vocab.vocab)) {
    if (!Number.isInteger(id) || id < 0 || id >= size) {
      throw new Error(`random model: token ${JSON.stringify(token)} has id ${id}, outside the text encoder's vocab_size ${size}`);
    }
  }
}

function writeJson(file: string, value: unknown, pretty = true): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, (pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)) + "\n");
}

/** model_index.json of a diffusers 0.11.1 StableDiffusionPipeline without safety checker. */
function modelIndex(seed: number, provenance: Json): Json {
  return {
    _class_name: "StableDiffusionPipeline",
    _diffusers_version: "0.11.1",
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ["diffusers", "DDIMScheduler"],
    text_encoder: ["transformers", "CLIPTextModel"],
    tokenizer: ["transformers", "CLIPTokenizer"],
    unet: ["diffusers", "UNet2DConditionModel"],
    vae: ["diffusers", "AutoencoderKL"],
    _fatezero: { generator: "writeRandomModel", seed, ...provenance },
  };
}

/** SD 1.x DDIM scheduler values (scaled-linear betas 0.00085..0.012, steps_offset 1). */
/** Stable Diffusion 1.x's DDIM scheduler config, as its model folders ship it. */
export const SD_SCHEDULER_CONFIG: Json = {
  _class_name: "DDIMScheduler",
  _diffusers_version: "0.11.1",
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: "epsilon",
  set_alpha_to_one: false,
  steps_offset: 1,
  trained_betas: null,
};

function addedToken(content: string, typed: boolean): Json {
  return { ...(typed ? { __type: "AddedToken" } : {}), content, lstrip: false, normalized: true, rstrip: false, single_word: false };
}

function specialTokensMap(): Json {
  return {
    bos_token: addedToken(START_OF_TEXT, false),
    eos_token: addedToken(END_OF_TEXT, false),
    pad_token: END_OF_TEXT,
    unk_token: addedToken(END_OF_TEXT, false),
  };
}

function tokenizerConfig(name: string): Json {
  return {
    add_prefix_space: false,
    bos_token: addedToken(START_OF_TEXT, true),
    do_lower_case: true,
    eos_token: addedToken(END_OF_TEXT, true),
    errors: "replace",
    model_max_length: CLIP_TOKENS,
    name_or_path: name,
    pad_token: END_OF_TEXT,
    special_tokens_map_file: "./special_tokens_map.json",
    tokenizer_class: "CLIPTokenizer",
    unk_token: addedToken(END_OF_TEXT, true),
  };
}
