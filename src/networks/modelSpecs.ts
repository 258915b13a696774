// The model configurations the project generates random weights for: the embedded tiny default (what tests
// and notebooks run on) and the real runwayml/stable-diffusion-v1-5 sizes (for benches). Config objects carry
// the same keys as the hub's config.json files, so a generated folder looks like a downloaded one.
import * as fs from "node:fs";
import * as path from "node:path";
import { CLIP_TOKENS } from "../tokenizer/clipTokenizer";
import { buildClipVocabFromGz, buildSmallClipVocab, type ClipVocabFiles } from "../tokenizer/clipVocab";
import type { RandomModelSpec } from "./randomModel";

type Json = Record<string, unknown>;

/** Where to find OpenAI's CLIP merge list. */
export interface ModelSpecOptions {
  /** Path of bpe_simple_vocab_16e6.txt.gz; default: defaultClipMergesPath(). */
  clipMergesGz?: string;
}

/** Merges added to the byte symbols when the full CLIP list is not available. */
const SMALL_VOCAB_MERGES = 256;

/** `$FATEZERO_CLIP_MERGES`, else ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz from the working directory. */
export function defaultClipMergesPath(): string {
  return process.env.FATEZERO_CLIP_MERGES || path.resolve(process.cwd(), "../shared/data/clip/bpe_simple_vocab_16e6.txt.gz");
}

/** The full CLIP vocabulary when the merge list exists, else a small CLIP-style one; says which. */
function clipVocabulary(options: ModelSpecOptions): { files: ClipVocabFiles; vocabulary: string } {
  const gz = options.clipMergesGz ?? defaultClipMergesPath();
  if (fs.existsSync(gz)) return { files: buildClipVocabFromGz(gz), vocabulary: `clip-full (${path.basename(gz)})` };
  return { files: buildSmallClipVocab(SMALL_VOCAB_MERGES), vocabulary: `clip-small (${SMALL_VOCAB_MERGES} merges)` };
}

/** Sizes of a CLIPTextModel. */
export interface TextSizes {
  name: string;
  transformersVersion: string;
  hidden: number;
  layers: number;
  heads: number;
  mlp: number;
  vocabSize: number;
}

/** Rows of the token embedding `files` needs: ids, not entries, size it (a hand-made vocabulary may repeat a token and skip an id). */
export function vocabularySize(files: ClipVocabFiles): number {
  return Object.values(files.vocab).reduce((max, id) => Math.max(max, id + 1), 0);
}

/** text_encoder/config.json of a CLIP this project sizes (transformers 4.25.1 keys) over the vocabulary `files`. */
export function projectTextEncoderJson(
  name: string,
  files: ClipVocabFiles,
  s: Pick<TextSizes, "hidden" | "layers" | "heads" | "mlp">,
): Json {
  return textEncoderJson({ name, transformersVersion: "4.25.1", vocabSize: vocabularySize(files), ...s });
}

/** text_encoder/config.json (transformers CLIPTextConfig keys). */
export function textEncoderJson(s: TextSizes): Json {
  return {
    _name_or_path: s.name,
    architectures: ["CLIPTextModel"],
    attention_dropout: 0.0,
    bos_token_id: 0,
    dropout: 0.0,
    eos_token_id: 2,
    hidden_act: "quick_gelu",
    hidden_size: s.hidden,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: s.mlp,
    layer_norm_eps: 1e-5,
    max_position_embeddings: CLIP_TOKENS,
    model_type: "clip_text_model",
    num_attention_heads: s.heads,
    num_hidden_layers: s.layers,
    pad_token_id: 1,
    projection_dim: s.hidden,
    torch_dtype: "float32",
    transformers_version: s.transformersVersion,
    vocab_size: s.vocabSize,
  };
}

/** Sizes of an SD 1.x UNet2DConditionModel. */
export interface UnetSizes {
  diffusersVersion: string;
  blocks: number[];
  /** How many of the highest-resolution levels have cross-attention (SD 1.x: all but the last). */
  crossLevels?: number;
  layers: number;
  heads: number;
  groups: number;
  crossDim: number;
  sampleSize: number;
}

/** unet/config.json with SD 1.x's block types: cross-attention down blocks then plain ones, and the mirror image up. */
export function unetJson(s: UnetSizes): Json {
  const cross = s.crossLevels ?? s.blocks.length - 1;
  const down = s.blocks.map((_, i) => (i < cross ? "CrossAttnDownBlock2D" : "DownBlock2D"));
  return {
    _class_name: "UNet2DConditionModel",
    _diffusers_version: s.diffusersVersion,
    act_fn: "silu",
    attention_head_dim: s.heads,
    block_out_channels: s.blocks,
    center_input_sample: false,
    cross_attention_dim: s.crossDim,
    down_block_types: down,
    downsample_padding: 1,
    flip_sin_to_cos: true,
    freq_shift: 0,
    in_channels: 4,
    layers_per_block: s.layers,
    mid_block_scale_factor: 1,
    norm_eps: 1e-5,
    norm_num_groups: s.groups,
    out_channels: 4,
    sample_size: s.sampleSize,
    up_block_types: down.map((type) => type.replace("Down", "Up")).reverse(),
  };
}

/** Sizes of an AutoencoderKL. */
export interface VaeSizes {
  diffusersVersion: string;
  blocks: number[];
  layers: number;
  groups: number;
  sampleSize: number;
  /** The latent scale, written as `scaling_factor` when given (a key of later diffusers; readers take SD_LATENT_SCALE where it is absent). */
  scalingFactor?: number;
}

/** vae/config.json (diffusers AutoencoderKL keys). */
export function vaeJson(s: VaeSizes): Json {
  return {
    _class_name: "AutoencoderKL",
    _diffusers_version: s.diffusersVersion,
    act_fn: "silu",
    block_out_channels: s.blocks,
    down_block_types: s.blocks.map(() => "DownEncoderBlock2D"),
    in_channels: 3,
    latent_channels: 4,
    layers_per_block: s.layers,
    norm_num_groups: s.groups,
    out_channels: 3,
    sample_size: s.sampleSize,
    ...(s.scalingFactor === undefined ? {} : { scaling_factor: s.scalingFactor }),
    up_block_types: s.blocks.map(() => "UpDecoderBlock2D"),
  };
}

/** The embedded default: a tiny SD 1.x-shaped pipeline (CLIP 32-wide, UNet 32/64/64/64, VAE 16/32/32/32). */
export function tinyModelSpec(options: ModelSpecOptions = {}): RandomModelSpec {
  const { files, vocabulary } = clipVocabulary(options);
  return {
    textEncoder: projectTextEncoderJson("fatezero-random-tiny", files, { hidden: 32, layers: 2, heads: 4, mlp: 128 }),
    unet: unetJson({ diffusersVersion: "0.11.1", blocks: [32, 64, 64, 64], layers: 2, heads: 4, groups: 16, crossDim: 32, sampleSize: 16 }),
    vae: vaeJson({ diffusersVersion: "0.11.1", blocks: [16, 32, 32, 32], layers: 1, groups: 16, sampleSize: 128 }),
    vocab: files,
    provenance: { model: "tiny", vocabulary },
  };
}

/** runwayml/stable-diffusion-v1-5's configurations (the sizes of a real checkpoint, ~1.07 G parameters). */
export function sd15ModelSpec(options: ModelSpecOptions = {}): RandomModelSpec {
  const { files, vocabulary } = clipVocabulary(options);
  return {
    // The real CLIP ViT-L/14 text tower has 49408 embedding rows whatever tokenizer is stored beside it.
    textEncoder: textEncoderJson({
      name: "openai/clip-vit-large-patch14",
      transformersVersion: "4.22.0.dev0",
      hidden: 768,
      layers: 12,
      heads: 12,
      mlp: 3072,
      vocabSize: 49408,
    }),
    unet: unetJson({
      diffusersVersion: "0.6.0",
      blocks: [320, 640, 1280, 1280],
      layers: 2,
      heads: 8,
      groups: 32,
      crossDim: 768,
      sampleSize: 64,
    }),
    vae: vaeJson({ diffusersVersion: "0.6.0", blocks: [128, 256, 512, 512], layers: 2, groups: 32, sampleSize: 512 }),
    vocab: files,
    provenance: { model: "stable-diffusion-v1-5 sizes", vocabulary },
  };
}
