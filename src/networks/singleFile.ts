// Single-file checkpoints: the one .safetensors file most Stable Diffusion 1.x models are shared as, in the
// original latent-diffusion layout (`model.diffusion_model.*` UNet, `first_stage_model.*` VAE,
// `cond_stage_model.transformer.*` CLIP text encoder). Its tensors are read in place under the diffusers
// names the graph builders ask for (nothing is converted or written); the VAE's mid-block attention, stored
// as 1×1 convolutions, is read as the matrices it is. A file with SD 1.x's standard shapes gets SD 1.x's
// configs, scheduler and CLIP tokenizer; anything else needs a diffusers folder's configs (--model-config).
import * as fs from "node:fs";
import * as path from "node:path";
import { SafetensorsFile } from "../checkpoint/safetensors";
import { WeightSet, type StoredTensor } from "../checkpoint/weightSet";
import { buildClipVocabFromGz } from "../tokenizer/clipVocab";
import { InputError } from "../util/inputError";
import { unetConfig, vaeConfig } from "./configs";
import { openModelFolder, type Component, type ModelFolder } from "./modelFolder";
import { defaultClipMergesPath, sd15ModelSpec } from "./modelSpecs";
import { recordParameters, SD_SCHEDULER_CONFIG } from "./randomModel";

/** How to read a single file. */
export interface SingleFileOptions {
  /** A diffusers folder whose configs, scheduler and tokenizer to use (its weights are not read). */
  modelConfig?: string;
  /** Use the UNet's EMA weights (`model_ema.*`) instead of its training weights. */
  ema?: boolean;
}

const UNET = "model.diffusion_model.";
const VAE = "first_stage_model.";
const TEXT = "cond_stage_model.transformer.";
const EMA = "model_ema.";

/** Whether `p` is named like a single-file checkpoint (.safetensors, in any case) rather than a model folder. */
export function isSingleFile(p: string): boolean {
  return path.extname(p).toLowerCase() === ".safetensors";
}

/**
 * What a single file holds, from its tensor names and shapes: SD 1.x with its standard shapes, SD 1.x of other
 * sizes, or a reason to refuse it (another model family, a LoRA, a VAE alone, parts missing).
 */
export function classifySingleFile(
  shapes: ReadonlyMap<string, number[]>,
): { kind: "sd1-standard" | "sd1" } | { kind: "refused"; reason: string } {
  const names = [...shapes.keys()];
  const has = (prefix: string) => names.some((n) => n.startsWith(prefix));
  const refuse = (reason: string) => ({ kind: "refused" as const, reason });
  if (names.some((n) => /lora_(up|down)|lora_unet|lora_te|\.lora\.|\.alpha$/.test(n)))
    return refuse("it is a LoRA (low-rank adapter) file, not a full checkpoint: load its base model instead");
  if (has("conditioner.embedders.") || has(`${UNET}label_emb.`))
    return refuse("it is an SDXL checkpoint; only Stable Diffusion 1.x is supported");
  const crossKey = shapes.get(`${UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight`);
  if (has("cond_stage_model.model.") || crossKey?.[1] === 1024)
    return refuse("it is a Stable Diffusion 2.x checkpoint (OpenCLIP text encoder, 1024-wide); only SD 1.x is supported");
  if (!has(UNET)) {
    if (has(VAE) || has("encoder.") || has("decoder.")) return refuse("it holds a VAE only (no model.diffusion_model.* UNet)");
    return refuse("it has no model.diffusion_model.* tensors: not a Stable Diffusion checkpoint in the original layout");
  }
  if (!has(VAE)) return refuse("it has no first_stage_model.* tensors (the VAE)");
  if (!has(TEXT)) return refuse("it has no cond_stage_model.transformer.* tensors (the CLIP text encoder)");
  const standard: [string, number[]][] = [
    [`${UNET}input_blocks.0.0.weight`, [320, 4, 3, 3]],
    [`${UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight`, [320, 768]],
    [`${VAE}encoder.conv_in.weight`, [128, 3, 3, 3]],
    [`${textPrefix(names)}embeddings.token_embedding.weight`, [49408, 768]],
    [`${textPrefix(names)}encoder.layers.11.self_attn.q_proj.weight`, [768, 768]],
  ];
  const isStandard =
    standard.every(([n, s]) => shapes.get(n)?.join() === s.join()) &&
    !shapes.has(`${textPrefix(names)}encoder.layers.12.self_attn.q_proj.weight`);
  return { kind: isStandard ? "sd1-standard" : "sd1" };
}

/** The text encoder's prefix: transformers saved it with or without the `text_model.` level. */
function textPrefix(names: string[]): string {
  return names.some((n) => n.startsWith(`${TEXT}text_model.`)) ? `${TEXT}text_model.` : TEXT;
}

/** Open a single-file checkpoint as a model: its weights, with SD 1.x's configs or those of `modelConfig`. */
export function openSingleFile(file: string, options: SingleFileOptions = {}): ModelFolder {
  const abs = path.resolve(file);
  const f = SafetensorsFile.open(abs);
  const shapes = new Map([...f.entries.values()].map((e) => [e.name, e.shape]));
  const kind = classifySingleFile(shapes);
  if (kind.kind === "refused") throw new InputError(`${abs}: ${kind.reason}`);
  let configs: ModelFolder;
  if (options.modelConfig !== undefined) {
    try {
      configs = openModelFolder(options.modelConfig, { weights: false });
    } catch (e) {
      throw new InputError(`--model-config ${options.modelConfig}: ${(e as Error).message}`);
    }
  } else if (kind.kind === "sd1-standard") configs = standardSd1(abs);
  else
    throw new InputError(
      `${abs}: its shapes are not SD 1.x's standard ones (320-channel UNet, 768-wide 12-layer CLIP, 128-channel VAE); ` +
        "give --model-config DIR, a diffusers folder with this model's configs and tokenizer (weights not needed)",
    );
  return withSingleFileWeights(configs, f, { ema: options.ema });
}

/** SD 1.x's configs, scheduler and the CLIP tokenizer (from OpenAI's merge list) for a standard single file. */
function standardSd1(file: string): ModelFolder {
  const merges = defaultClipMergesPath();
  if (!fs.existsSync(merges))
    throw new InputError(
      `${file}: SD 1.x's CLIP tokenizer is built from OpenAI's merge list, not found at ${merges}: ` +
        "set FATEZERO_CLIP_MERGES to bpe_simple_vocab_16e6.txt.gz, " +
        "or give --model-config DIR (a diffusers SD 1.x folder's configs and tokenizer)",
    );
  const spec = sd15ModelSpec({ clipMergesGz: merges });
  const component = (name: string, config: Record<string, unknown>): Component => ({
    name,
    dir: file,
    config,
    weights: WeightSet.empty(file),
  });
  return {
    root: file,
    modelIndex: { _class_name: "StableDiffusionPipeline", _fatezero: { singleFile: file, configs: "stable-diffusion-v1-5" } },
    textEncoder: component("text_encoder", spec.textEncoder),
    vocab: buildClipVocabFromGz(merges),
    unet: component("unet", spec.unet),
    vae: component("vae", spec.vae),
    schedulerConfig: SD_SCHEDULER_CONFIG,
    schedulerConfigPath: `${file} (SD 1.x's DDIM scheduler)`,
  };
}

/**
 * `folder` with its text encoder, VAE and UNet weights read from a single file (`keepUnet`: the folder's own
 * UNet, e.g. a Tune-A-Video `unet_tuned/`). Every tensor the architecture needs must be in the file with the
 * shape it needs; the error lists what is missing.
 */
export function withSingleFileWeights(
  folder: ModelFolder,
  file: string | SafetensorsFile,
  options: { ema?: boolean; keepUnet?: boolean } = {},
): ModelFolder {
  const f = typeof file === "string" ? SafetensorsFile.open(path.resolve(file)) : file;
  const names = [...f.entries.keys()];
  const params = recordParameters({ textEncoder: folder.textEncoder.config, unet: folder.unet.config, vae: folder.vae.config });
  const vaeLevels = vaeConfig(folder.vae.config).blockOutChannels.length;
  const unet = unetConfig(folder.unet.config);
  const useEma = options.ema ?? false;
  if (useEma && !names.some((n) => n.startsWith(EMA))) throw new InputError(`${f.path}: --ema: the file has no model_ema.* (EMA) weights`);
  const text = textPrefix(names);
  const view = (component: string, wanted: ReadonlyMap<string, number[]>, toStored: (name: string) => StoredTensor): WeightSet => {
    const map = new Map<string, StoredTensor>();
    const missing: string[] = [];
    for (const [name, shape] of wanted) {
      const s = toStored(name);
      const entry = f.entries.get(s.stored);
      if (!entry) missing.push(`${s.stored} (${component} ${name})`);
      else if (entry.shape.join() === shape.join()) map.set(name, { stored: s.stored });
      // The original layout stores the VAE's attention projections as 1×1 convolution kernels.
      else if (entry.shape.join() === [...shape, 1, 1].join()) map.set(name, { stored: s.stored, shape });
      else
        throw new InputError(
          `${f.path}: "${s.stored}" has shape [${entry.shape.join(", ")}], the ${component} config needs [${shape.join(", ")}] for ${name}`,
        );
    }
    if (missing.length > 0)
      throw new InputError(
        `${f.path}: ${missing.length} tensors the ${component} needs are missing, e.g. ${missing.slice(0, 3).join(", ")}`,
      );
    return WeightSet.renamed(f.path, f, map);
  };
  const withWeights = (c: Component, weights: WeightSet): Component => ({ ...c, dir: f.path, weights });
  const unetName = (name: string) => {
    const ldm = `${UNET}${unetToLdm(name, unet.layersPerBlock, (b) => unet.upBlockTypes[b] === "CrossAttnUpBlock2D")}`;
    return { stored: useEma ? `${EMA}${ldm.slice("model.".length).replace(/\./g, "")}` : ldm };
  };
  return {
    ...folder,
    textEncoder: withWeights(
      folder.textEncoder,
      view("text encoder", params.textEncoder, (n) => ({ stored: `${text}${n.replace(/^text_model\./, "")}` })),
    ),
    unet: options.keepUnet ? folder.unet : withWeights(folder.unet, view("UNet", params.unet, unetName)),
    vae: withWeights(
      folder.vae,
      view("VAE", params.vae, (n) => vaeToLdm(n, vaeLevels)),
    ),
  };
}

const RESNET: [RegExp, string][] = [
  [/^norm1\./, "in_layers.0."],
  [/^conv1\./, "in_layers.2."],
  [/^time_emb_proj\./, "emb_layers.1."],
  [/^norm2\./, "out_layers.0."],
  [/^conv2\./, "out_layers.3."],
  [/^conv_shortcut\./, "skip_connection."],
];

/** A diffusers UNet parameter's name in the original layout (without `model.diffusion_model.`). */
export function unetToLdm(name: string, layersPerBlock: number, upHasAttention: (block: number) => boolean): string {
  const per = layersPerBlock + 1;
  const resnet = (rest: string) => RESNET.reduce((r, [from, to]) => r.replace(from, to), rest);
  let m: RegExpExecArray | null;
  if ((m = /^time_embedding\.linear_([12])\.(.*)$/.exec(name))) return `time_embed.${m[1] === "1" ? 0 : 2}.${m[2]}`;
  if ((m = /^conv_in\.(.*)$/.exec(name))) return `input_blocks.0.0.${m[1]}`;
  if ((m = /^conv_norm_out\.(.*)$/.exec(name))) return `out.0.${m[1]}`;
  if ((m = /^conv_out\.(.*)$/.exec(name))) return `out.2.${m[1]}`;
  if ((m = /^down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$/.exec(name))) return `input_blocks.${1 + +m[1] * per + +m[2]}.0.${resnet(m[3])}`;
  if ((m = /^down_blocks\.(\d+)\.attentions\.(\d+)\.(.*)$/.exec(name))) return `input_blocks.${1 + +m[1] * per + +m[2]}.1.${m[3]}`;
  if ((m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$/.exec(name))) return `input_blocks.${(+m[1] + 1) * per}.0.op.${m[2]}`;
  if ((m = /^mid_block\.resnets\.([01])\.(.*)$/.exec(name))) return `middle_block.${m[1] === "0" ? 0 : 2}.${resnet(m[2])}`;
  if ((m = /^mid_block\.attentions\.0\.(.*)$/.exec(name))) return `middle_block.1.${m[1]}`;
  if ((m = /^up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$/.exec(name))) return `output_blocks.${+m[1] * per + +m[2]}.0.${resnet(m[3])}`;
  if ((m = /^up_blocks\.(\d+)\.attentions\.(\d+)\.(.*)$/.exec(name))) return `output_blocks.${+m[1] * per + +m[2]}.1.${m[3]}`;
  if ((m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)$/.exec(name)))
    return `output_blocks.${+m[1] * per + layersPerBlock}.${upHasAttention(+m[1]) ? 2 : 1}.conv.${m[2]}`;
  throw new Error(`single file: no original-layout name for UNet parameter "${name}"`);
}

const VAE_ATTENTION: [RegExp, string][] = [
  [/^group_norm\./, "norm."],
  [/^(query|to_q)\./, "q."],
  [/^(key|to_k)\./, "k."],
  [/^(value|to_v)\./, "v."],
  [/^(proj_attn|to_out\.0)\./, "proj_out."],
];

/** A diffusers VAE parameter's stored tensor in the original layout; attention kernels are read as [C, C]. */
export function vaeToLdm(name: string, levels: number): StoredTensor {
  const resnet = (rest: string) => rest.replace(/^conv_shortcut\./, "nin_shortcut.");
  let m: RegExpExecArray | null;
  let stored: string;
  if ((m = /^(encoder|decoder)\.conv_norm_out\.(.*)$/.exec(name))) stored = `${m[1]}.norm_out.${m[2]}`;
  else if ((m = /^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$/.exec(name)))
    stored = `encoder.down.${m[1]}.block.${m[2]}.${resnet(m[3])}`;
  else if ((m = /^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$/.exec(name)))
    stored = `encoder.down.${m[1]}.downsample.conv.${m[2]}`;
  else if ((m = /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$/.exec(name)))
    stored = `decoder.up.${levels - 1 - +m[1]}.block.${m[2]}.${resnet(m[3])}`;
  else if ((m = /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)$/.exec(name)))
    stored = `decoder.up.${levels - 1 - +m[1]}.upsample.conv.${m[2]}`;
  else if ((m = /^(encoder|decoder)\.mid_block\.resnets\.([01])\.(.*)$/.exec(name)))
    stored = `${m[1]}.mid.block_${+m[2] + 1}.${resnet(m[3])}`;
  else if ((m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(.*)$/.exec(name))) {
    const rest = VAE_ATTENTION.reduce((r, [from, to]) => r.replace(from, to), m[2]);
    return { stored: `${VAE}${m[1]}.mid.attn_1.${rest}` };
  } else stored = name; // conv_in, conv_out, quant_conv, post_quant_conv keep their names
  return { stored: `${VAE}${stored}` };
}
