// Typed views of the diffusers / transformers config.json files of an SD 1.x pipeline. Each reader
// checks the keys the graphs depend on and names the file and key when something is missing or
// unsupported, instead of building a wrong graph.
import { CLIP_TOKENS } from "../tokenizer/clipTokenizer";

type Json = Record<string, unknown>;

function reader(what: string, cfg: Json) {
  const get = <T>(key: string, check: (v: unknown) => boolean, fallback?: T): T => {
    const v = cfg[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${what}: config key "${key}" is missing`);
    }
    if (!check(v)) throw new Error(`${what}: config key "${key}" has an unexpected value ${JSON.stringify(v)}`);
    return v as T;
  };
  const isInt = (v: unknown) => Number.isInteger(v);
  const isNum = (v: unknown) => typeof v === "number";
  const isBool = (v: unknown) => typeof v === "boolean";
  const isStr = (v: unknown) => typeof v === "string";
  const isIntList = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(isInt);
  const isStrList = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(isStr);
  return {
    int: (k: string, d?: number) => get<number>(k, isInt, d),
    num: (k: string, d?: number) => get<number>(k, isNum, d),
    bool: (k: string, d?: boolean) => get<boolean>(k, isBool, d),
    str: (k: string, d?: string) => get<string>(k, isStr, d),
    ints: (k: string, d?: number[]) => get<number[]>(k, isIntList, d),
    strs: (k: string) => get<string[]>(k, isStrList),
    intOrInts: (k: string, d?: number | number[]) => get<number | number[]>(k, (v) => isInt(v) || isIntList(v), d),
  };
}

/** CLIP text encoder hyper-parameters (transformers CLIPTextConfig). */
export interface TextEncoderConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  maxPositions: number;
  layerNormEps: number;
  activation: "quick_gelu" | "gelu";
}

/** Read text_encoder/config.json. */
export function textEncoderConfig(cfg: Json, what = "text_encoder/config.json"): TextEncoderConfig {
  const r = reader(what, cfg);
  const activation = r.str("hidden_act", "quick_gelu");
  if (activation !== "quick_gelu" && activation !== "gelu") throw new Error(`${what}: hidden_act "${activation}" is not supported`);
  const c: TextEncoderConfig = {
    vocabSize: r.int("vocab_size"),
    hiddenSize: r.int("hidden_size"),
    intermediateSize: r.int("intermediate_size"),
    layers: r.int("num_hidden_layers"),
    heads: r.int("num_attention_heads"),
    maxPositions: r.int("max_position_embeddings", CLIP_TOKENS),
    layerNormEps: r.num("layer_norm_eps", 1e-5),
    activation,
  };
  if (c.hiddenSize % c.heads !== 0) throw new Error(`${what}: hidden_size ${c.hiddenSize} is not divisible by ${c.heads} heads`);
  return c;
}

/** SD 1.x's latent scale: what vae/config.json's `scaling_factor` is when absent (diffusers' default). */
export const SD_LATENT_SCALE = 0.18215;

/** AutoencoderKL hyper-parameters. */
export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  normGroups: number;
  scalingFactor: number;
}

/** Read vae/config.json. */
/** Image pixels per latent pixel along each side: the VAE halves the image once per level but the last. */
export function vaeFactor(c: Pick<VaeConfig, "blockOutChannels">): number {
  return 2 ** (c.blockOutChannels.length - 1);
}

export function vaeConfig(cfg: Json, what = "vae/config.json"): VaeConfig {
  const r = reader(what, cfg);
  const blocks = r.ints("block_out_channels");
  for (const [key, want] of [
    ["down_block_types", "DownEncoderBlock2D"],
    ["up_block_types", "UpDecoderBlock2D"],
  ] as const) {
    const types = r.strs(key);
    if (types.length !== blocks.length || types.some((t) => t !== want)) {
      throw new Error(`${what}: ${key} must be ${blocks.length} × "${want}" (SD 1.x layout), got ${JSON.stringify(types)}`);
    }
  }
  return {
    inChannels: r.int("in_channels", 3),
    outChannels: r.int("out_channels", 3),
    latentChannels: r.int("latent_channels", 4),
    blockOutChannels: blocks,
    layersPerBlock: r.int("layers_per_block", 1),
    normGroups: normGroups(what, r.int("norm_num_groups", 32), blocks),
    scalingFactor: r.num("scaling_factor", SD_LATENT_SCALE),
  };
}

/** norm_num_groups must split every block's channels (GroupNorm): checked here rather than deep in a graph. */
function normGroups(what: string, groups: number, blocks: number[]): number {
  const bad = blocks.find((c) => groups < 1 || c % groups !== 0);
  if (bad !== undefined) throw new Error(`${what}: config key "norm_num_groups" is ${groups}, which does not divide ${bad} channels`);
  return groups;
}

/** UNet2DConditionModel hyper-parameters (diffusers 0.11 layout, SD 1.x). */
export interface UnetConfig {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  downBlockTypes: string[];
  upBlockTypes: string[];
  layersPerBlock: number;
  /** Attention heads per down level (SD 1.x's `attention_head_dim` is a head count); up levels reverse it. */
  heads: number[];
  crossAttentionDim: number;
  normGroups: number;
  normEps: number;
  flipSinToCos: boolean;
  freqShift: number;
  downsamplePadding: number;
  useLinearProjection: boolean;
  sampleSize: number;
}

const DOWN_TYPES = ["CrossAttnDownBlock2D", "DownBlock2D"];
const UP_TYPES = ["CrossAttnUpBlock2D", "UpBlock2D"];
/** FateZero / Tune-A-Video save their inflated UNets with these names; the weights are the 2D blocks' plus temporal parts. */
const PSEUDO_3D: Record<string, string> = {
  CrossAttnDownBlockPseudo3D: "CrossAttnDownBlock2D",
  DownBlockPseudo3D: "DownBlock2D",
  CrossAttnUpBlockPseudo3D: "CrossAttnUpBlock2D",
  UpBlockPseudo3D: "UpBlock2D",
};
const MID_TYPES = ["UNetMidBlock2DCrossAttn", "UNetMidBlockPseudo3DCrossAttn"];

/** Read unet/config.json, refusing features SD 1.x does not use. */
export function unetConfig(cfg: Json, what = "unet/config.json"): UnetConfig {
  const r = reader(what, cfg);
  const blocks = r.ints("block_out_channels");
  const down = r.strs("down_block_types").map((t) => PSEUDO_3D[t] ?? t);
  const up = r.strs("up_block_types").map((t) => PSEUDO_3D[t] ?? t);
  const levels = blocks.length;
  if (down.length !== levels || up.length !== levels) throw new Error(`${what}: block type lists must have ${levels} entries`);
  for (const t of down) if (!DOWN_TYPES.includes(t)) throw new Error(`${what}: down block type "${t}" is not supported`);
  for (const t of up) if (!UP_TYPES.includes(t)) throw new Error(`${what}: up block type "${t}" is not supported`);
  for (const key of ["class_embed_type", "num_class_embeds", "addition_embed_type", "encoder_hid_dim"]) {
    if (cfg[key] !== undefined && cfg[key] !== null) throw new Error(`${what}: "${key}" is not supported (SD 1.x has none)`);
  }
  const mid = cfg.mid_block_type;
  if (mid !== undefined && mid !== null && !MID_TYPES.includes(String(mid)))
    throw new Error(`${what}: mid_block_type "${String(mid)}" is not supported`);
  if (cfg.temporal_downsample === true) throw new Error(`${what}: temporal_downsample is not supported`);
  if (r.bool("only_cross_attention", false) || r.bool("dual_cross_attention", false) || r.bool("upcast_attention", false)) {
    throw new Error(`${what}: only_cross_attention / dual_cross_attention / upcast_attention are not supported`);
  }
  const headSpec = r.intOrInts("attention_head_dim", 8);
  const heads = typeof headSpec === "number" ? blocks.map(() => headSpec) : headSpec;
  if (heads.length !== levels) throw new Error(`${what}: attention_head_dim list must have ${levels} entries`);
  heads.forEach((h, i) => {
    if (blocks[i] % h !== 0) throw new Error(`${what}: ${blocks[i]} channels are not divisible by ${h} heads`);
  });
  return {
    inChannels: r.int("in_channels", 4),
    outChannels: r.int("out_channels", 4),
    blockOutChannels: blocks,
    downBlockTypes: down,
    upBlockTypes: up,
    layersPerBlock: r.int("layers_per_block", 2),
    heads,
    crossAttentionDim: r.int("cross_attention_dim", 768),
    normGroups: normGroups(what, r.int("norm_num_groups", 32), blocks),
    normEps: r.num("norm_eps", 1e-5),
    flipSinToCos: r.bool("flip_sin_to_cos", true),
    freqShift: r.num("freq_shift", 0),
    downsamplePadding: r.int("downsample_padding", 1),
    useLinearProjection: r.bool("use_linear_projection", false),
    sampleSize: r.int("sample_size", 64),
  };
}
