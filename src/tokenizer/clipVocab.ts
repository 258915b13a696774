import * as fs from "node:fs";
import * as zlib from "node:zlib";

/** Number of merges CLIP takes from its merge list: 49152 BPE tokens minus 256 byte symbols and 2 specials. */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;
/** The start-of-text special token (id 49406 in the full vocabulary). */
export const START_OF_TEXT = "<|startoftext|>";
/** The end-of-text special token, also used for padding and unknown symbols (id 49407 in the full vocabulary). */
export const END_OF_TEXT = "<|endoftext|>";
/** Suffix marking the last symbol of a word; merges and vocabulary entries carry it. */
export const END_OF_WORD = "</w>";
/** First line of a Hugging Face merges.txt; loaders skip it. */
export const MERGES_VERSION_LINE = "#version: 0.2";

/** A tokenizer/ folder's two BPE files: the parsed vocab.json and the text of merges.txt. */
export interface ClipVocabFiles {
  vocab: Record<string, number>;
  merges: string;
}

/**
 * CLIP's bytes_to_unicode: every byte value mapped to a printable character, in CLIP's insertion order
 * (printable Latin-1 bytes map to themselves first, the rest to U+0100.. in byte order). The order matters:
 * it is the order of the first 256 vocabulary ids.
 */
export function bytesToUnicode(): Map<number, string> {
  const printable: number[] = [];
  const addRange = (from: string, to: string): void => {
    for (let b = from.charCodeAt(0); b <= to.charCodeAt(0); b++) printable.push(b);
  };
  addRange("!", "~");
  addRange("\u00a1", "\u00ac");
  addRange("\u00ae", "\u00ff");
  const map = new Map<number, string>();
  for (const b of printable) map.set(b, String.fromCharCode(b));
  let next = 256;
  for (let b = 0; b < 256; b++) if (!map.has(b)) map.set(b, String.fromCharCode(next++));
  return map;
}

/** The first 256 merges of OpenAI's bpe_simple_vocab_16e6.txt, so a small vocabulary needs no data files. */
export const CLIP_FIRST_MERGES: readonly string[] = pairUp(`
  i n  t h  a n  r e  a r  e r  th e</w>  in g</w>  o u  o n  s t  o r
  e n  o n</w>  a l  a t  e r</w>  i t  i n</w>  t o</w>  r o  i s</w>  l e  i c
  a t</w>  an d</w>  e d</w>  o f</w>  c h  o r</w>  e s</w>  i l  e l  s t</w>  a c  o m
  a m  l o  a n</w>  a y</w>  s h  r i  l i  t i  f or</w>  n e  ð Ł  r a
  h a  d e  o l  v e</w>  s i  u r  a l</w>  s e  ' s</w>  u n  d i  b e
  l a  w h  o o  d ay</w>  e n</w>  m a  n o  l e</w>  t o  ou r</w>  i r  g h
  w it  i t</w>  y o  a s  s p  th is</w>  t s</w>  at i  yo u</w>  wit h</w>  a d  i s
  a b  l y</w>  w e  th e  t e  a s</w>  a g  v i  p p  s u  h o  m y</w>
  . .  b u  c om  s e</w>  er s</w>  m e  m e</w>  al l</w>  c on  m o  k e</w>  g e
  ou t</w>  en t</w>  c o  f e  v er  a r</w>  f ro  a u  p o  c e</w>  gh t</w>  ar e</w>
  s s</w>  fro m</w>  c h</w>  t r  ou n  on e</w>  b y</w>  d o  t h</w>  w or  er e</w>  k e
  p ro  f or  d s</w>  b o  t a  w e</w>  g o  h e  t er</w>  in g  d e</w>  b e</w>
  ati on</w>  m or  a y  e x  il l</w>  p e  k s</w>  s c  l u  f u  q u  v er</w>
  ðŁ ĺ  j u  m u  at e</w>  an d  v e  k ing</w>  m ar  o p  h i  .. .</w>  p re
  a d</w>  r u  th at</w>  j o  o f  c e  ne w</w>  a m</w>  a p  g re  s s  d u
  no w</w>  y e  t ing</w>  y our</w>  it y</w>  n i  c i  p ar  g u  f i  a f  p er
  t er  u p</w>  s o</w>  g i  on s</w>  g r  g e</w>  b r  p l  ' t</w>  m i  in e</w>
  we e  b i  u s</w>  sh o  ha ve</w>  to day</w>  a v  m an  en t  ac k</w>  ur e</w>  ou r
  â Ģ  c u  l d</w>  lo o  i m  ic e</w>  s om  f in  re d</w>  re n  oo d</w>  w as</w>
  ti on</w>  p i  i r</w>  th er</w>  t y</w>  p h  ar d</w>  e c  ! !</w>  m on  mor e</w>  w ill</w>
  t ra  c an</w>  c ol  p u  t e</w>  w n</w>  m b  s o  it i  ju st</w>  n ing</w>  h ere</w>
  t u  p a  p r  bu t</w>
`);

/** CLIP's merges from OpenAI's gzipped bpe_simple_vocab_16e6.txt: the CLIP_MERGE_COUNT lines after its header. */
export function readClipMerges(gzPath: string): string[] {
  if (!fs.existsSync(gzPath)) throw new Error(`CLIP merge list not found: ${gzPath}`);
  const lines = zlib.gunzipSync(fs.readFileSync(gzPath)).toString("utf8").split("\n");
  // The header line is "...txt#version: 0.2"; CLIP then uses exactly CLIP_MERGE_COUNT merges.
  const merges = lines.slice(1, CLIP_MERGE_COUNT + 1);
  if (merges.length < CLIP_MERGE_COUNT) {
    throw new Error(`${gzPath}: ${merges.length} merge lines, CLIP needs ${CLIP_MERGE_COUNT}`);
  }
  return merges;
}

/**
 * Build vocab.json and merges.txt exactly as CLIP's SimpleTokenizer builds its encoder: the 256 byte symbols,
 * the same with END_OF_WORD, one entry per merge (its two halves joined), then the two specials.
 */
export function buildClipVocab(merges: readonly string[]): ClipVocabFiles {
  const symbols = [...bytesToUnicode().values()];
  const entries = [
    ...symbols,
    ...symbols.map((s) => s + END_OF_WORD),
    ...merges.map((m) => splitMerge(m).join("")),
    START_OF_TEXT,
    END_OF_TEXT,
  ];
  // fromEntries keeps later duplicates like Python's dict(zip(...)) and never touches Object.prototype.
  const vocab = Object.fromEntries(entries.map((token, id) => [token, id]));
  return { vocab, merges: [MERGES_VERSION_LINE, ...merges].join("\n") + "\n" };
}

/** The full CLIP vocabulary (49408 tokens) built from OpenAI's gzipped merge list. */
export function buildClipVocabFromGz(gzPath: string): ClipVocabFiles {
  return buildClipVocab(readClipMerges(gzPath));
}

/**
 * A small CLIP-style vocabulary for tiny test models: all 512 byte-level symbols, the first `mergeCount`
 * merges and the two specials (ids 512 + mergeCount and one more). Any text still tokenizes, in more pieces.
 */
export function buildSmallClipVocab(mergeCount: number, merges: readonly string[] = CLIP_FIRST_MERGES): ClipVocabFiles {
  if (!Number.isInteger(mergeCount) || mergeCount < 0 || mergeCount > merges.length) {
    throw new Error(`small CLIP vocabulary: mergeCount must be an integer in 0..${merges.length}, got ${mergeCount}`);
  }
  return buildClipVocab(merges.slice(0, mergeCount));
}

/** The two halves of one merge line ("th e</w>" → ["th", "e</w>"]), with an error for malformed lines. */
export function splitMerge(line: string): [string, string] {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0] === "") throw new Error(`malformed BPE merge line: ${JSON.stringify(line)}`);
  return [parts[0], parts[1]];
}

// Merges are written two halves each, separated by double spaces for the reader; halves never contain spaces.
function pairUp(text: string): string[] {
  const halves = text.trim().split(/\s+/);
  const merges: string[] = [];
  for (let i = 0; i < halves.length; i += 2) merges.push(`${halves[i]} ${halves[i + 1]}`);
  return merges;
}
