import type { ClipTokenizer } from "./clipTokenizer";

/** The two tokenizer operations word lookup needs (BPE ids of a text, text of ids). */
export type WordTokenizer = Pick<ClipTokenizer, "encode" | "decode">;

/**
 * Token positions of a word in a prompt, as prompt-to-prompt / FateZero's `ptp_utils.get_word_inds`:
 * `wordPlace` is a word (every occurrence among `text.split(" ")`, matched exactly and case-sensitively, so
 * "countryside," is not "countryside") or a word position. Positions count SOT as 0 and are not truncated.
 * Returns [] when the word is absent.
 */
export function getWordIndices(text: string, wordPlace: string | number, tokenizer: WordTokenizer): number[] {
  const words = text.split(" ");
  const places = typeof wordPlace === "string" ? words.flatMap((word, i) => (word === wordPlace ? [i] : [])) : [wordPlace];
  if (places.length === 0) return [];
  // Words are matched to tokens only through lengths: each decoded token (without '#') adds its length until
  // the current word's length is reached. Lengths are in code points, as Python's len() counts them; a token
  // holding part of a multi-byte character decodes to '\uFFFD', which is how the original drifts on such text.
  const pieces = tokenizer.encode(text).map((id) => stripHashes(tokenizer.decode([id])));
  const out: number[] = [];
  let word = 0;
  let length = 0;
  for (let i = 0; i < pieces.length; i++) {
    // Where the original would index past the last word (IndexError), no later token can belong to a word.
    if (word >= words.length) break;
    length += codePointLength(pieces[i]);
    if (places.includes(word)) out.push(i + 1);
    if (length >= codePointLength(words[word])) {
      word++;
      length = 0;
    }
  }
  return out;
}

/**
 * Token positions of a blend or equalizer word, or an Error naming the word and the prompt when the word
 * cannot be found there (where the original silently edits nothing).
 */
export function requireWordIndices(text: string, word: string, tokenizer: WordTokenizer): number[] {
  const found = getWordIndices(text, word, tokenizer);
  if (found.length > 0) return found;
  const words = text.split(" ");
  const reason = words.includes(word)
    ? "its tokens could not be located (multi-byte characters before it decode to U+FFFD per token and " + "shift the count)"
    : `it is not one of the prompt's space-separated words (matching is exact and case-sensitive: ${words
        .map((w) => JSON.stringify(w))
        .join(", ")})`;
  throw new Error(`word ${JSON.stringify(word)} is not in the prompt ${JSON.stringify(text)}: ${reason}`);
}

// Python's str.strip("#"): the original removes WordPiece-style '#' markers from both ends of a token.
function stripHashes(piece: string): string {
  return piece.replace(/^#+|#+$/g, "");
}

function codePointLength(s: string): number {
  return Array.from(s).length;
}
