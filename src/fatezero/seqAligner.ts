// Prompt-to-prompt's token alignment between the controller's source prompt and the edit prompt
// (FateZero `prompt_attention/seq_aligner.py`): the refine controller copies the source attention of aligned
// tokens, the replace controller maps the tokens of swapped words onto each other.
import { CLIP_TOKENS, type ClipTokenizer } from "../tokenizer/clipTokenizer";
import { getWordIndices } from "../tokenizer/wordIndices";

/** The tokenizer operations alignment needs. */
export type AlignTokenizer = Pick<ClipTokenizer, "encode" | "decode" | "startId" | "endId">;

// Scores of seq_aligner.ScoreParams(gap=0, match=1, mismatch=-1).
const GAP = 0;
const MATCH = 1;
const MISMATCH = -1;
// Traceback codes of seq_aligner.get_traceback_matrix / global_align.
const LEFT = 1;
const UP = 2;
const DIAGONAL = 3;

/** Refine controller tables: target token j takes source token `mapper[j]` (−1: none) with weight `alphas[j]`. */
export interface RefinementMapper {
  /** [T] source token position per target token; −1 for target tokens inserted by the edit. */
  mapper: Int32Array;
  /** [T] 1 where the target token copies source attention, 0 where it keeps its own. */
  alphas: Float32Array;
}

/** seq_aligner.get_mapper: global alignment of the full token sequences (SOT and EOT included). */
export function refinementMapper(source: string, target: string, tokenizer: AlignTokenizer): RefinementMapper {
  const x = withSpecialTokens(source, tokenizer);
  const y = withSpecialTokens(target, tokenizer);
  // The original fills a CLIP_TOKENS-long mapper with one entry per target token and indexes the source maps with
  // the mapped positions, so either prompt longer than the context fails there.
  for (const [text, ids] of [
    [source, x],
    [target, y],
  ] as const) {
    if (ids.length > CLIP_TOKENS) {
      throw new Error(
        `refine alignment: the prompt ${JSON.stringify(text)} has ${ids.length - 2} tokens, more than the ` +
          `${CLIP_TOKENS - 2} that fit in CLIP's context (aligning ${JSON.stringify(source)} → ${JSON.stringify(target)})`,
      );
    }
  }
  const targetToSource = alignTargetToSource(x, y);
  const mapper = new Int32Array(CLIP_TOKENS); // [T]
  const alphas = new Float32Array(CLIP_TOKENS).fill(1); // [T]
  for (let j = 0; j < CLIP_TOKENS; j++) {
    if (j < y.length) {
      mapper[j] = targetToSource[j];
      alphas[j] = targetToSource[j] === -1 ? 0 : 1;
    } else {
      mapper[j] = j; // padding positions after the target's EOT keep their own column
    }
  }
  return { mapper, alphas };
}

/**
 * seq_aligner.get_replacement_mapper_: a [T, T] row-major matrix M (source token × target token) with
 * P_target = P_source · M. Words that differ are mapped token to token, or spread with 1/len(target tokens)
 * when their token counts differ. Throws when the prompts have different numbers of space-separated words.
 */
export function replacementMapper(source: string, target: string, tokenizer: AlignTokenizer): Float32Array {
  const wordsX = source.split(" ");
  const wordsY = target.split(" ");
  if (wordsX.length !== wordsY.length) {
    throw new Error(
      `attention replacement needs prompts with the same number of words, but the source prompt ` +
        `${JSON.stringify(source)} has ${wordsX.length} words and the target prompt ${JSON.stringify(target)} ` +
        `has ${wordsY.length}`,
    );
  }
  const replaced = wordsY.flatMap((word, i) => (word !== wordsX[i] ? [i] : []));
  const locate = (text: string, place: number): number[] => {
    const found = getWordIndices(text, place, tokenizer);
    if (found.length === 0) {
      throw new Error(
        `attention replacement: the tokens of word ${place} (${JSON.stringify(text.split(" ")[place])}) of ` +
          `${JSON.stringify(text)} cannot be located (empty word from repeated spaces, or multi-byte characters)`,
      );
    }
    return found;
  };
  const sourceInds = replaced.map((place) => locate(source, place));
  const targetInds = replaced.map((place) => locate(target, place));
  const m = new Float32Array(CLIP_TOKENS * CLIP_TOKENS); // [T, T] row-major, M[source, target]
  const set = (row: number, col: number, value: number): void => {
    if (row >= CLIP_TOKENS || col >= CLIP_TOKENS) {
      throw new Error(
        `attention replacement: a swapped word of ${JSON.stringify(source)} → ${JSON.stringify(target)} lies ` +
          `beyond CLIP's ${CLIP_TOKENS}-token context`,
      );
    }
    m[row * CLIP_TOKENS + col] = value;
  };
  let i = 0;
  let j = 0;
  let next = 0;
  while (i < CLIP_TOKENS && j < CLIP_TOKENS) {
    if (next < sourceInds.length && sourceInds[next][0] === i) {
      const src = sourceInds[next];
      const tgt = targetInds[next];
      if (src.length === tgt.length) {
        src.forEach((s, k) => set(s, tgt[k], 1));
      } else {
        // Not normalised per target column when the source word has several tokens: as the original.
        const ratio = 1 / tgt.length;
        for (const t of tgt) for (const s of src) set(s, t, ratio);
      }
      next++;
      i += src.length;
      j += tgt.length;
    } else if (next < sourceInds.length) {
      set(i, j, 1);
      i++;
      j++;
    } else {
      // After the last swapped word the original writes the diagonal at the *target* position, so when the
      // swapped words' token counts differ the tail is not shifted back into alignment.
      set(j, j, 1);
      i++;
      j++;
    }
  }
  return m;
}

function withSpecialTokens(text: string, tokenizer: AlignTokenizer): number[] {
  return [tokenizer.startId, ...tokenizer.encode(text), tokenizer.endId];
}

// seq_aligner.global_align + get_aligned_sequences: for each target position, the aligned source position
// or −1. Ties prefer left (a target insertion), then up (a source deletion), then the diagonal.
function alignTargetToSource(x: readonly number[], y: readonly number[]): Int32Array {
  const rows = x.length + 1;
  const cols = y.length + 1;
  const score = new Int32Array(rows * cols); // [len(x)+1, len(y)+1]
  const trace = new Uint8Array(rows * cols); // [len(x)+1, len(y)+1]
  for (let j = 1; j < cols; j++) {
    score[j] = j * GAP;
    trace[j] = LEFT;
  }
  for (let i = 1; i < rows; i++) {
    score[i * cols] = i * GAP;
    trace[i * cols] = UP;
  }
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const left = score[i * cols + j - 1] + GAP;
      const up = score[(i - 1) * cols + j] + GAP;
      const diag = score[(i - 1) * cols + j - 1] + (x[i - 1] === y[j - 1] ? MATCH : MISMATCH);
      const best = Math.max(left, up, diag);
      score[i * cols + j] = best;
      trace[i * cols + j] = best === left ? LEFT : best === up ? UP : DIAGONAL;
    }
  }
  const out = new Int32Array(y.length); // [len(y)]
  let i = x.length;
  let j = y.length;
  while (i > 0 || j > 0) {
    const code = trace[i * cols + j];
    if (code === DIAGONAL) {
      i--;
      j--;
      out[j] = i;
    } else if (code === LEFT) {
      j--;
      out[j] = -1;
    } else {
      i--;
    }
  }
  return out;
}
