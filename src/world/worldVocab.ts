// The world model's tokenizer files: CLIP's byte-level BPE (the same format and tokenizer as SD's), with
// merges that spell every world word as one token. Other text still tokenizes, letter by letter.
import { ClipTokenizer } from "../tokenizer/clipTokenizer";
import { buildClipVocab, type ClipVocabFiles } from "../tokenizer/clipVocab";
import { captionWords } from "./captions";
import { COLOUR_NAMES, SETTINGS, STYLES, VEHICLE_KINDS } from "./vocabulary";

/** Every word the world model knows: the caption grammar's and the vocabulary's. */
export function worldWords(): string[] {
  return [...new Set([...captionWords(), ...VEHICLE_KINDS, ...COLOUR_NAMES, ...SETTINGS, ...STYLES])];
}

/**
 * Merges that make each word one token. For each word in turn, the merges so far split it into pieces;
 * new merges join the pieces left to right. New merges rank after all earlier ones, so they never fire
 * before an earlier word's own merges: every word stays one token (tested).
 */
export function worldMerges(words: readonly string[] = worldWords()): string[] {
  const merges: string[] = [];
  for (const word of words) {
    const files = buildClipVocab(merges);
    const tokens = new Map(Object.entries(files.vocab).map(([token, id]) => [id, token]));
    let pieces = new ClipTokenizer(files.vocab, files.merges).encode(word).map((id) => tokens.get(id)!);
    while (pieces.length > 1) {
      merges.push(`${pieces[0]} ${pieces[1]}`);
      pieces = [pieces[0] + pieces[1], ...pieces.slice(2)];
    }
  }
  return merges;
}

/** vocab.json and merges.txt of the world model's tokenizer. */
export function worldVocabFiles(): ClipVocabFiles {
  return buildClipVocab(worldMerges());
}
