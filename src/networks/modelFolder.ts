// Opens a Stable Diffusion 1.x checkpoint in the diffusers folder layout, as users download it. Everything
// is checked up front so that a wrong or incomplete folder fails here, naming the exact missing or broken
// file, rather than deep inside graph building. Only safetensors are read: PyTorch pickles can run
// arbitrary code when loaded, so .bin/.ckpt components are refused with instructions to convert them.
import * as fs from "node:fs";
import * as path from "node:path";
import { pickleConversionAdvice } from "../checkpoint/safetensors";
import { WeightSet } from "../checkpoint/weightSet";
import { readTokenizerFolder } from "../tokenizer/clipTokenizer";
import type { ClipVocabFiles } from "../tokenizer/clipVocab";
import { fileKind } from "../util/fileKind";

/** One model part (text encoder, UNet, VAE): its folder, parsed config.json and weights. */
export interface Component {
  name: string;
  dir: string;
  config: Record<string, unknown>;
  weights: WeightSet;
}

/** An opened, checked model: a diffusers folder, or a single-file checkpoint with the configs it needs. */
export interface ModelFolder {
  /** The folder, or the single file. */
  root: string;
  modelIndex: Record<string, unknown>;
  textEncoder: Component;
  /** The tokenizer's vocab.json and merges.txt. */
  vocab: ClipVocabFiles;
  unet: Component;
  vae: Component;
  /** The scheduler's config, and the file it came from (for messages). */
  schedulerConfig: Record<string, unknown>;
  schedulerConfigPath: string;
}

/** Choices when opening a folder. */
export interface ModelFolderOptions {
  /** Subfolder holding the UNet, e.g. "unet_tuned" for Tune-A-Video checkpoints; defaults to "unet". */
  unetSubfolder?: string;
  /** Open the weights too (default); without, a folder of configs and tokenizer is enough (their weights come from elsewhere). */
  weights?: boolean;
}

/** Weight file stem per component, as diffusers and transformers name them. */
const WEIGHTS_STEM = { text_encoder: "model", unet: "diffusion_pytorch_model", vae: "diffusion_pytorch_model" };

/** File extensions of PyTorch pickle checkpoints. */
export const PICKLE_EXTENSIONS = [".bin", ".ckpt", ".pt", ".pth"];

/** Open and check a diffusers-layout SD 1.x model folder; errors name the exact missing or invalid file. */
export function openModelFolder(root: string, options: ModelFolderOptions = {}): ModelFolder {
  const abs = path.resolve(root);
  if (!fs.existsSync(abs)) throw new Error(`model folder ${abs} does not exist`);
  const stats = fs.statSync(abs);
  if (!stats.isDirectory()) throw new Error(`model folder ${abs} is ${fileKind(stats)}, not a folder`);
  const modelIndex = readJsonObject(requireFile(path.join(abs, "model_index.json"), "the pipeline index"));
  const tokenizerDir = path.join(abs, "tokenizer");
  requireFile(path.join(tokenizerDir, "vocab.json"), "the tokenizer vocabulary");
  requireFile(path.join(tokenizerDir, "merges.txt"), "the tokenizer merges");
  const schedulerConfigPath = requireFile(path.join(abs, "scheduler", "scheduler_config.json"), "the scheduler config");
  const weights = options.weights ?? true;
  return {
    root: abs,
    modelIndex,
    textEncoder: openComponent(abs, "text_encoder", WEIGHTS_STEM.text_encoder, weights),
    vocab: readTokenizerFolder(tokenizerDir),
    unet: openComponent(abs, options.unetSubfolder ?? "unet", WEIGHTS_STEM.unet, weights),
    vae: openComponent(abs, "vae", WEIGHTS_STEM.vae, weights),
    schedulerConfig: readJsonObject(schedulerConfigPath),
    schedulerConfigPath,
  };
}

/** One component folder: its config.json and (when `withWeights`) its weights, both required. */
function openComponent(root: string, name: string, stem: string, withWeights = true): Component {
  const dir = path.resolve(root, name);
  const config = readJsonObject(requireFile(path.join(dir, "config.json"), `the ${name} config`));
  return { name, dir, config, weights: withWeights ? openWeights(dir, stem) : WeightSet.empty(dir) };
}

/** A component's weights: single safetensors file, then sharded index, then the fp16 variant of each. */
function openWeights(dir: string, stem: string): WeightSet {
  const single = path.join(dir, `${stem}.safetensors`);
  if (isFile(single)) return WeightSet.open([single]);
  const index = path.join(dir, `${stem}.safetensors.index.json`);
  if (isFile(index)) return openShards(index);
  const fp16 = path.join(dir, `${stem}.fp16.safetensors`);
  if (isFile(fp16)) return WeightSet.open([fp16]);
  const fp16Index = path.join(dir, `${stem}.safetensors.index.fp16.json`);
  if (isFile(fp16Index)) return openShards(fp16Index);
  // A weights file that is there but not a regular file (a FIFO, a device) is not "missing".
  for (const candidate of [single, index, fp16, fp16Index])
    if (fs.existsSync(candidate))
      throw new Error(`${candidate} (the ${path.basename(dir)} weights) is ${fileKind(fs.statSync(candidate))}, not a regular file`);
  const present = fs.readdirSync(dir).sort();
  const pickles = present.filter((f) => PICKLE_EXTENSIONS.includes(path.extname(f).toLowerCase()));
  if (pickles.length > 0) {
    throw new Error(
      `${dir} holds only PyTorch pickle weights (${pickles.join(", ")}). ${pickleConversionAdvice(path.join(dir, pickles[0]), single)}` +
        " (or re-save the whole pipeline with diffusers' save_pretrained(..., safe_serialization=True))",
    );
  }
  throw new Error(`missing ${single} (the ${path.basename(dir)} weights; the folder holds: ${present.join(", ") || "nothing"})`);
}

/** The shards listed by a diffusers `*.safetensors.index.json`, checked against the index's weight_map. */
function openShards(indexPath: string): WeightSet {
  const index = readJsonObject(indexPath);
  const map = index.weight_map;
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    throw new Error(`${indexPath}: "weight_map" is missing or not an object`);
  }
  const dir = path.dirname(indexPath);
  const shards: string[] = [];
  for (const [tensor, file] of Object.entries(map)) {
    // Shard names must be plain file names: an index must not make us open files outside the model folder.
    if (typeof file !== "string" || file === "" || path.basename(file) !== file || file === "." || file === "..") {
      throw new Error(`${indexPath}: weight_map entry "${tensor}" has an invalid shard file name ${JSON.stringify(file)}`);
    }
    if (!shards.includes(file)) shards.push(file);
  }
  if (shards.length === 0) throw new Error(`${indexPath}: "weight_map" lists no tensors`);
  const paths = shards.map((s) => requireFile(path.join(dir, s), `a shard listed in ${indexPath}`));
  const weights = WeightSet.open(paths);
  for (const [tensor, file] of Object.entries(map as Record<string, string>)) {
    if (!weights.has(tensor)) throw new Error(`${indexPath}: tensor "${tensor}" is not in any shard`);
    const actual = weights.locate(tensor).file.path;
    if (actual !== path.join(dir, file)) {
      throw new Error(`${indexPath}: tensor "${tensor}" is mapped to ${file} but stored in ${path.basename(actual)}`);
    }
  }
  return weights;
}

/** Whether the path exists and is a regular file (or a link to one). */
function isFile(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isFile();
}

/** The path itself if it is a regular file, else an error naming it and what it should hold. */
function requireFile(p: string, what: string): string {
  if (!fs.existsSync(p)) throw new Error(`missing ${p} (${what})`);
  const stats = fs.statSync(p);
  if (!stats.isFile()) throw new Error(`${p} (${what}) is ${fileKind(stats)}, not a regular file`);
  return p;
}

/** A JSON file that must hold an object; any failure names the file. */
export function readJsonObject(p: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(p, "utf8"));
  } catch (e) {
    throw new Error(`${p}: invalid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${p}: expected a JSON object`);
  return value as Record<string, unknown>;
}
