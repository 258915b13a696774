// Words → token positions, and the token weights FateZero sums the blend words' attention with.
import { requireWordIndices, type WordTokenizer } from "../tokenizer/wordIndices";

/** Token positions (SOT = 0) of `words` in `prompt`; throws, naming the word, when one is missing. */
export function wordPositions(tokenizer: WordTokenizer, prompt: string, words: string[]): number[] {
  return [...new Set(words.flatMap((word) => requireWordIndices(prompt, word, tokenizer)))].filter((i) => i < 77).sort((a, b) => a - b);
}

/** [77] 1 at the token positions of `words` in `prompt`. */
export function blendWordAlpha(tokenizer: WordTokenizer, prompt: string, words: string[]): Float32Array {
  const alpha = new Float32Array(77); // [77]
  for (const i of wordPositions(tokenizer, prompt, words)) alpha[i] = 1;
  return alpha;
}
