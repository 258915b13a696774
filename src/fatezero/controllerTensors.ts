// Everything FateZero's `attention_util.make_controller` derives for one edit, as plain arrays: the token
// alignment (refine or replace), the per-step per-token cross-attention schedule, the equalizer, the blend
// words' token masks and the self-attention window. The edit loop feeds these to the fused UNet graph.
import type { CrossReplaceSteps, EditSpec } from "./editOptions";
import { getWordIndices, requireWordIndices } from "../tokenizer/wordIndices";
import { CLIP_TOKENS } from "../tokenizer/clipTokenizer";
import { type AlignTokenizer, refinementMapper, replacementMapper } from "./seqAligner";
import { crossRowRange, crossWindows, selfStepRange, windowBounds, type StepWindow } from "./stepWindows";

/** Where a word was looked up. */
export type WordUse = "equalizer" | "blend-source" | "blend-target" | "cross-replace";

/** A word FateZero would silently skip because its prompt lacks it (kept only with `missingWords: "ignore"`). */
export interface IgnoredWord {
  word: string;
  prompt: string;
  use: WordUse;
}

/** How to treat words that are not in their prompt. */
export interface ControllerOptions {
  /**
   * "error" (default): throw, naming the word and the prompt. "ignore": skip it as FateZero does (its own
   * configs rely on this: jeep_posche.yaml's reconstruction entry carries the edit's equalizer and target
   * blend words) and list it in `ignoredWords`.
   */
  missingWords?: "error" | "ignore";
}

/** The controller of one edit, as FateZero's make_controller builds it, in plain arrays. */
export interface ControllerTensors {
  /** "replace" only when the replace controller was asked for and both prompts have the same word count. */
  kind: "refine" | "replace";
  /** [steps+1, T] row = edit step (cur_step), 1 = fuse that token's cross-attention. Row `steps` is never used. */
  crossReplaceAlpha: Float32Array;
  /** [T] refine: source token position per target token (−1 = inserted token). */
  refineMapper?: Int32Array;
  /** [T] refine: 1 = copy source attention, 0 = keep the edit's. */
  refineAlphas?: Float32Array;
  /** [T, T] row-major replace matrix, P_target = P_source · M. */
  replaceMapper?: Float32Array;
  /** [T] per-token gain on the fused cross-attention (ones without eq_params). */
  equalizer: Float32Array;
  /** [2, T] row 0: source prompt's blend-word tokens, row 1: target prompt's; absent without blend words. */
  blendAlphaLayers?: Float32Array;
  /** Edit steps [start, end) whose self-attention is fused: [int(N·s0), int(N·s1)). */
  selfReplace: [number, number];
  /** Self-attention is blended with the source-word mask (blend words present and blendSelfAttention). */
  attentionBlend: boolean;
  /** Latents are blended outside the mask (blend words present and blendLatents). */
  latentBlend: boolean;
  /** Words skipped because their prompt lacks them (always empty with `missingWords: "error"`). */
  ignoredWords: IgnoredWord[];
}

/** The controls of the fused graph's cross-attention for one edit, independent of refine/replace. */
export interface FusionInputs {
  /** [T, T] row-major, P_src · crossMatrix gives the source attention in target token order. */
  crossMatrix: Float32Array;
  /** [T] weight of the mapped source attention against the edit's own, per target token. */
  crossBlend: Float32Array;
}

/** make_controller's tensors for `spec` over `steps` DDIM steps; throws with a clear message on invalid controls. */
export function controllerTensors(
  spec: EditSpec,
  steps: number,
  tokenizer: AlignTokenizer,
  options: ControllerOptions = {},
): ControllerTensors {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`controller: steps must be a positive integer, got ${steps}`);
  const { prompt, sourcePrompt, p2p } = spec;
  const ignoredWords: IgnoredWord[] = [];
  const lookup = (text: string, word: string, use: WordUse): number[] => {
    const found = getWordIndices(text, word, tokenizer);
    if (found.length === 0) {
      if (options.missingWords === "ignore") {
        ignoredWords.push({ word, prompt: text, use });
        return [];
      }
      try {
        requireWordIndices(text, word, tokenizer);
      } catch (e) {
        throw new Error(`${use} ${(e as Error).message}`);
      }
    }
    // The original indexes CLIP_TOKENS-wide tensors with these positions, which fails past the context.
    if (found.some((i) => i >= CLIP_TOKENS)) {
      throw new Error(`${use} word ${JSON.stringify(word)} lies beyond CLIP's ${CLIP_TOKENS}-token context in ${JSON.stringify(text)}`);
    }
    return found;
  };

  // P2P::p2preplace_edit silently falls back to refine when the word counts differ.
  const sameWordCount = sourcePrompt.split(" ").length === prompt.split(" ").length;
  const kind = p2p.isReplaceController && sameWordCount ? "replace" : "refine";
  let alignment: Pick<ControllerTensors, "refineMapper" | "refineAlphas" | "replaceMapper">;
  if (kind === "replace") {
    alignment = { replaceMapper: replacementMapper(sourcePrompt, prompt, tokenizer) };
  } else {
    const { mapper, alphas } = refinementMapper(sourcePrompt, prompt, tokenizer);
    alignment = { refineMapper: mapper, refineAlphas: alphas };
  }

  const selfSteps = selfStepRange(windowBounds(p2p.selfReplaceSteps, "selfReplaceSteps"), steps);
  const selfReplace: [number, number] = [selfSteps.start, selfSteps.end];

  const blendWords = p2p.blendWords;
  let blendAlphaLayers: Float32Array | undefined;
  if (blendWords !== undefined) {
    if (!Array.isArray(blendWords) || blendWords.length !== 2 || !blendWords.every(Array.isArray)) {
      throw new Error(`blendWords must be [source words, target words], got ${JSON.stringify(blendWords)}`);
    }
    const layers = new Float32Array(2 * CLIP_TOKENS); // [2, T]
    const rows: [string, string[], WordUse][] = [
      [sourcePrompt, blendWords[0], "blend-source"],
      [prompt, blendWords[1], "blend-target"],
    ];
    rows.forEach(([text, words, use], row) => {
      for (const word of words) for (const i of lookup(text, word, use)) layers[row * CLIP_TOKENS + i] = 1;
    });
    blendAlphaLayers = layers;
  }

  return {
    kind,
    crossReplaceAlpha: crossReplaceAlpha(prompt, steps, p2p.crossReplaceSteps, lookup),
    ...alignment,
    equalizer: equalizer(prompt, p2p.eqParams, lookup),
    ...(blendAlphaLayers ? { blendAlphaLayers } : {}),
    selfReplace,
    attentionBlend: blendWords !== undefined && p2p.blendSelfAttention,
    latentBlend: blendWords !== undefined && p2p.blendLatents,
    ignoredWords,
  };
}

/** The unified cross-attention controls: refine's one-hot mapper and alphas, or replace's matrix and ones. */
export function fusionInputs(t: ControllerTensors): FusionInputs {
  if (t.kind === "replace") {
    if (!t.replaceMapper) throw new Error("fusionInputs: a replace controller without replaceMapper");
    return { crossMatrix: Float32Array.from(t.replaceMapper), crossBlend: new Float32Array(CLIP_TOKENS).fill(1) /* [T] */ };
  }
  if (!t.refineMapper || !t.refineAlphas) throw new Error("fusionInputs: a refine controller without refineMapper/refineAlphas");
  const crossMatrix = new Float32Array(CLIP_TOKENS * CLIP_TOKENS); // [T, T] row-major, M[source, target]
  t.refineMapper.forEach((source, target) => {
    // torch reads index −1 as the last column; its alpha is 0, so the column only has to exist.
    const row = source < 0 ? CLIP_TOKENS + source : source;
    crossMatrix[row * CLIP_TOKENS + target] = 1;
  });
  return { crossMatrix, crossBlend: Float32Array.from(t.refineAlphas) };
}

type WordLookup = (text: string, word: string, use: WordUse) => number[];

// ptp_utils.get_time_words_attention_alpha for one prompt pair: N+1 rows; "default_" (all tokens, the whole
// schedule when absent) first, then each word's window on its tokens in the TARGET prompt (the alpha multiplies
// maps in target token order). Distinct words own disjoint tokens, so the order of the entries does not matter.
function crossReplaceAlpha(target: string, steps: number, spec: CrossReplaceSteps, lookup: WordLookup): Float32Array {
  const rows = steps + 1;
  const alpha = new Float32Array(rows * CLIP_TOKENS); // [steps+1, T]
  if (spec === null || (typeof spec !== "object" && typeof spec !== "number")) {
    throw new Error(`crossReplaceSteps must be a fraction, a [start, end] pair or a per-word object, got ${JSON.stringify(spec)}`);
  }
  const fill = (window: StepWindow, columns: Iterable<number>, what: string): void => {
    const { start: from, end: to } = crossRowRange(windowBounds(window, what), steps);
    for (const c of columns) for (let r = 0; r < rows; r++) alpha[r * CLIP_TOKENS + c] = r >= from && r < to ? 1 : 0;
  };
  const { all, words } = crossWindows(spec);
  fill(
    all,
    Array.from({ length: CLIP_TOKENS }, (_, i) => i),
    'crossReplaceSteps "default_"',
  );
  for (const { word, window } of words) fill(window, lookup(target, word, "cross-replace"), `crossReplaceSteps[${JSON.stringify(word)}]`);
  return alpha;
}

// attention_util.get_equalizer on the target prompt: ones, the words' tokens set to their value (later wins).
function equalizer(target: string, eq: { words: string[]; values: number[] } | undefined, lookup: WordLookup): Float32Array {
  const out = new Float32Array(CLIP_TOKENS).fill(1); // [T]
  if (eq === undefined) return out;
  if (!Array.isArray(eq.words) || !Array.isArray(eq.values) || eq.words.length !== eq.values.length) {
    throw new Error(`eqParams needs one value per word, got words ${JSON.stringify(eq.words)} and values ${JSON.stringify(eq.values)}`);
  }
  eq.words.forEach((word, k) => {
    const value = eq.values[k];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new Error(`eqParams value for ${JSON.stringify(word)} must be a finite number, got ${JSON.stringify(value)}`);
    }
    for (const i of lookup(target, word, "equalizer")) out[i] = value;
  });
  return out;
}
