// Words → token positions, and the token weights FateZero sums the blend words' attention with.
import { CLIP_TOKENS } from "../tokenizer/clipTokenizer";
import { requireWordIndices, type WordTokenizer } from "../tokenizer/wordIndices";

/** Token positions (SOT = 0) of `words` in `prompt`; throws, naming the word, when one is missing. */
export function wordPositions(tokenizer: WordTokenizer, prompt: string, words: string[]): number[] {
  return [...new Set(words.flatMap((word) => requireWordIndices(prompt, word, tokenizer)))]
    .filter((i) => i < CLIP_TOKENS)
    .sort((a, b) => a - b);
}

/** [T] 1 at the token positions of `words` in `prompt`. */
export function blendWordAlpha(tokenizer: WordTokenizer, prompt: string, words: string[]): Float32Array {
  const alpha = new Float32Array(CLIP_TOKENS); // [T]
  for (const i of wordPositions(tokenizer, prompt, words)) alpha[i] = 1;
  return alpha;
}
