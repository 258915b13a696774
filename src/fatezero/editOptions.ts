// The typed options of an edit, as a notebook cell or the CLI gives them. FateZero's YAML configs map
// onto these (src/config/); names follow FateZero's p2p_config keys where one exists.
import type { FrameSelector } from "../networks/frameLayout";

/** Cross-attention replacement window: a fraction of the steps, [start, end] fractions, or per word with "default_". */
export type CrossReplaceSteps = number | [number, number] | Record<string, number | [number, number]>;

/** Prompt-to-prompt controls of one edit (FateZero `p2p_config`). */
export interface P2pOptions {
  /** Use the word-swap (replace) controller; only honoured when both prompts have the same number of words. */
  isReplaceController: boolean;
  crossReplaceSteps: CrossReplaceSteps;
  /** Self-attention replacement window: end fraction, or [start, end] fractions. */
  selfReplaceSteps: number | [number, number];
  /** Blend words: [words of the source prompt, words of the target prompt]. */
  blendWords?: [string[], string[]];
  /**
   * FateZero's `blend_th`. Its SpatialBlender thresholds every pooled blend mask (self-attention and latent
   * blending alike) with element 0 (`th[1 - int(use_pool)]`, use_pool true); element 1 is only for the
   * unpooled subtract-words mask, which FateZero's configs never set. Read it through `blendMaskThreshold`.
   */
  blendTh: [number, number];
  /** Blend self-attention with the mask (1 = edit) instead of replacing it entirely. */
  blendSelfAttention: boolean;
  /** Blend latents with the inverted ones outside the mask (FateZero `blend_latents`). */
  blendLatents: boolean;
  /** Steps whose latents are blended, as [start, end] fractions (FateZero hard-codes 0.2 and 0.8). */
  latentBlendSteps?: [number, number];
  /** Re-weight words of the target prompt (FateZero `eq_params`). */
  eqParams?: { words: string[]; values: number[] };
}

/** Where the source attention fused into the edit comes from. */
export type AttentionSourceMode =
  /** FateZero: the source branch replayed on the inverted latents at the same timestep. */
  | "inversion"
  /** Prompt-to-prompt ablation: the source branch follows its own denoising trajectory. */
  | "reconstruction"
  /** Plain editing, no attention control (the baseline). */
  | "none";

/** One edit of a video: the target prompt, the prompt its controller aligns to, and the controls. */
export interface EditSpec {
  prompt: string;
  /** The controller's source prompt (FateZero `editing_prompts[0]`); may differ from the inversion prompt. */
  sourcePrompt: string;
  p2p: P2pOptions;
}

/**
 * The text of classifier-free guidance's unconditional branch. "empty": SD's and FateZero's "" prompt.
 * "source": the inversion's prompt (negative-prompt inversion, Miyake et al. 2023) — the inversion ran
 * unguided on that prompt, so guidance scales only the difference the new words (and the fusion on the edit
 * branch) make, and an edit towards that prompt without attention control retraces the inversion.
 */
export type NegativePrompt = "empty" | "source";

/** The negative prompts an edit can use. */
export const NEGATIVE_PROMPTS: readonly NegativePrompt[] = ["empty", "source"];

/**
 * The arithmetic of the UNet's weight products. "fp32": float32 throughout (FateZero's, and the only one an SD
 * folder or a FateZero config gets unless asked). "int8": linear layers and convolutions dynamically quantized
 * (src/onnx/quantize.ts); attention products, softmax, norms and the fusion's mixing stay float32. An inversion
 * and its edits use the same UNet, so the precision is part of the inversion's key.
 */
export type UnetPrecision = "fp32" | "int8";

/** The UNet precisions an edit can use. */
export const UNET_PRECISIONS: readonly UnetPrecision[] = ["fp32", "int8"];

/** The UNet precision when nothing says otherwise. */
export const DEFAULT_UNET_PRECISION: UnetPrecision = "fp32";

/** Options of the editing loop. */
export interface EditLoopOptions {
  guidanceScale: number;
  negativePrompt: NegativePrompt;
  attention: AttentionSourceMode;
  /** Layers whose query length (per frame) is at most this are controlled (CONTROL_QUERY_LIMIT). */
  controlQueryLimit: number;
}

/** The steps whose latents are blended, as fractions, when not given: FateZero hard-codes (0.2, 0.8). */
export const DEFAULT_LATENT_BLEND_STEPS: [number, number] = [0.2, 0.8];

/** FateZero's defaults for the p2p controls. */
export const DEFAULT_P2P: P2pOptions = {
  isReplaceController: true,
  crossReplaceSteps: 0.8,
  selfReplaceSteps: 0.9,
  blendTh: [0.3, 0.3],
  blendSelfAttention: false,
  blendLatents: false,
};

/** How the 2D UNet is inflated when nothing says otherwise (FateZero's `from_2d_model`): sparse-causal keys from the previous and the first frame, in every block. */
export const DEFAULT_INFLATION: { readonly selectors: readonly FrameSelector[]; readonly leastScChannel: number } = {
  selectors: [-1, "first"],
  leastScChannel: 0,
};

/** FateZero's control limit: layers with at most 32² queries per frame are controlled (not SD's 64² layers at 512 px). */
export const CONTROL_QUERY_LIMIT = 32 * 32;

/** Default loop options: CFG 7.5 against the empty prompt, inversion attention fusion, FateZero's query limit. */
export const DEFAULT_EDIT_LOOP: EditLoopOptions = {
  guidanceScale: 7.5,
  negativePrompt: "empty",
  attention: "inversion",
  controlQueryLimit: CONTROL_QUERY_LIMIT,
};

/** The threshold of the blend mask — for self-attention and latent blending — as FateZero applies `blend_th`. */
export function blendMaskThreshold(p2p: Pick<P2pOptions, "blendTh">): number {
  return p2p.blendTh[0];
}
