import * as fs from "node:fs";
import * as path from "node:path";
import { bytesToUnicode, END_OF_TEXT, END_OF_WORD, splitMerge, START_OF_TEXT, type ClipVocabFiles } from "./clipVocab";

/** CLIP's context length: the text encoder reads SOT, up to 75 BPE ids and EOT, padded to this many tokens. */
export const CLIP_TOKENS = 77;

/** A prompt encoded for the text encoder: always `maxLength` ids, SOT first, EOT after the text, EOT padding. */
export interface TokenizedPrompt {
  /** SOT, up to 75 BPE ids, EOT, then EOT padding: exactly CLIP_TOKENS ids. */
  ids: number[];
  /** Whether BPE ids were dropped to fit (the prompt had more than 75). */
  truncated: boolean;
  /** Number of ids before the padding (SOT and EOT included). */
  length: number;
}

// Unicode White_Space, which is what `\s` means in the `regex` module CLIP uses (JS `\s` adds U+FEFF and
// lacks U+0085, so it cannot be used as is).
const WHITE_SPACE = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
// Python's str.strip() also removes the separators U+001C..U+001F.
const PY_STRIP = new RegExp(`^[${WHITE_SPACE}\\x1c-\\x1f]+|[${WHITE_SPACE}\\x1c-\\x1f]+$`, "gu");
const WHITE_SPACE_RUN = new RegExp(`[${WHITE_SPACE}]+`, "gu");
// CLIP's pre-tokenizer pattern (regex.IGNORECASE → the `i` flag; both use simple case folding).
const TOKEN_PATTERN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WHITE_SPACE}\\p{L}\\p{N}]+`,
  "giu",
);

/**
 * CLIP byte-level BPE tokenizer, behaving as OpenAI CLIP's simple_tokenizer.py (with ftfy as the identity)
 * and Hugging Face's CLIPTokenizer for prompts: ids come from the folder's vocab.json, never constants.
 */
export class ClipTokenizer {
  /** Context length of the CLIP text encoder. */
  readonly maxLength = CLIP_TOKENS;
  /** Id of `<|startoftext|>`. */
  readonly startId: number;
  /** Id of `<|endoftext|>`, also the padding and unknown-symbol id (as in HF's tokenizer config). */
  readonly endId: number;

  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly ranks: Map<string, number>;
  private readonly byteEncoder: string[];
  private readonly byteDecoder: Map<string, number>;
  // Special tokens bypass BPE: the pattern keeps them whole and they carry no end-of-word marker.
  private readonly cache = new Map<string, string[]>([
    [START_OF_TEXT, [START_OF_TEXT]],
    [END_OF_TEXT, [END_OF_TEXT]],
  ]);

  /** Build from a parsed vocab.json and the text of merges.txt (its `#version` line is skipped). */
  constructor(vocab: Record<string, number>, mergesText: string) {
    this.encoder = new Map(Object.entries(vocab));
    this.decoder = new Map([...this.encoder].map(([token, id]) => [id, token]));
    const lines = mergesText.split(/\r?\n/);
    if (lines.length > 0 && lines[0].startsWith("#version")) lines.shift();
    // The rank of a merge is its line number; the key joins the halves with a space, which no symbol contains.
    this.ranks = new Map(lines.filter((l) => l.trim() !== "").map((line, rank) => [splitMerge(line).join(" "), rank]));
    const bytes = bytesToUnicode();
    this.byteEncoder = Array.from({ length: 256 }, (_, b) => bytes.get(b) as string);
    this.byteDecoder = new Map([...bytes].map(([b, ch]) => [ch, b]));
    this.startId = this.specialId(START_OF_TEXT);
    this.endId = this.specialId(END_OF_TEXT);
  }

  /** Load `vocab.json` and `merges.txt` from a diffusers `tokenizer/` folder. */
  static fromFolder(dir: string): ClipTokenizer {
    return ClipTokenizer.fromFiles(readTokenizerFolder(dir));
  }

  /** Build from a tokenizer folder's two files. */
  static fromFiles(files: ClipVocabFiles): ClipTokenizer {
    return new ClipTokenizer(files.vocab, files.merges);
  }

  /** Number of entries in the vocabulary. */
  get vocabSize(): number {
    return this.encoder.size;
  }

  /** BPE ids of a text, without SOT/EOT and without truncation (CLIP's SimpleTokenizer.encode). */
  encode(text: string): number[] {
    const cleaned = whitespaceClean(basicClean(text)).toLowerCase();
    const ids: number[] = [];
    for (const match of cleaned.matchAll(TOKEN_PATTERN)) {
      const symbols = Array.from(Buffer.from(match[0], "utf8"), (b) => this.byteEncoder[b]).join("");
      // Like HF, a symbol missing from a (hand-made) vocabulary maps to the unknown token, <|endoftext|>.
      for (const token of this.bpe(symbols)) ids.push(this.encoder.get(token) ?? this.endId);
    }
    return ids;
  }

  /** The CLIP_TOKENS ids the text encoder takes: SOT, the first 75 BPE ids, EOT, EOT padding (HF max_length + truncation). */
  tokenize(text: string): TokenizedPrompt {
    const bpeIds = this.encode(text);
    const room = this.maxLength - 2;
    const ids = [this.startId, ...bpeIds.slice(0, room), this.endId];
    const length = ids.length;
    while (ids.length < this.maxLength) ids.push(this.endId);
    return { ids, truncated: bpeIds.length > room, length };
  }

  /**
   * Text of a list of ids as HF's CLIPTokenizer.decode gives it: bytes decoded as UTF-8 with U+FFFD for
   * incomplete sequences (so one token of a multi-byte character decodes to '\uFFFD'), END_OF_WORD → space,
   * stripped. Special tokens are kept.
   */
  decode(ids: readonly number[]): string {
    const symbols = ids
      .map((id) => {
        const token = this.decoder.get(id);
        if (token === undefined) throw new Error(`CLIP tokenizer: id ${id} is not in the vocabulary`);
        return token;
      })
      .join("");
    const bytes = Uint8Array.from(symbols, (ch) => {
      const b = this.byteDecoder.get(ch);
      if (b === undefined) throw new Error(`CLIP tokenizer: symbol ${JSON.stringify(ch)} is not a byte symbol`);
      return b;
    });
    // ignoreBOM keeps a leading U+FEFF as Python's bytes.decode does.
    const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    return pyStrip(text.split(END_OF_WORD).join(" "));
  }

  // Byte-pair encoding of one pre-token (already mapped to byte symbols): repeatedly merge the adjacent pair
  // with the lowest rank, every occurrence left to right, until no ranked pair is left.
  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = Array.from(token);
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + END_OF_WORD];
    while (word.length > 1) {
      let best: string | undefined;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = `${word[i]} ${word[i + 1]}`;
        }
      }
      if (best === undefined) break;
      const [first, second] = best.split(" ");
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(word[i]);
        }
      }
      word = merged;
    }
    this.cache.set(token, word);
    return word;
  }

  private specialId(token: string): number {
    const id = this.encoder.get(token);
    if (id === undefined) throw new Error(`CLIP tokenizer: vocab.json has no ${token} entry`);
    return id;
  }
}

// CLIP's basic_clean: html.unescape twice (so "&amp;amp;" becomes "&"), then strip.
function basicClean(text: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(text)));
}

// CLIP's whitespace_clean: every run of white space becomes one space, then strip.
function whitespaceClean(text: string): string {
  return pyStrip(text.replace(WHITE_SPACE_RUN, " "));
}

function pyStrip(text: string): string {
  return text.replace(PY_STRIP, "");
}

// Python's html.unescape pattern: decimal / hex character references and names of up to 32 characters.
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

// HTML5's legacy entities, the only names recognised without ';' (and, by Python, as a prefix of a longer
// name): the 96 Latin-1 names for U+00A0..U+00FF in code point order, plus the ASCII ones.
const LATIN1_NAMES = (
  "nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 " +
  "acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml " +
  "Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde " +
  "Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig " +
  "ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide " +
  "oslash ugrave uacute ucirc uuml yacute thorn yuml"
).split(" ");
const LEGACY_ENTITIES = new Map<string, string>([
  ...LATIN1_NAMES.map((name, i): [string, string] => [name, String.fromCharCode(0xa0 + i)]),
  ["amp", "&"],
  ["AMP", "&"],
  ["lt", "<"],
  ["LT", "<"],
  ["gt", ">"],
  ["GT", ">"],
  ["quot", '"'],
  ["QUOT", '"'],
  ["COPY", "\u00a9"],
  ["REG", "\u00ae"],
]);
// Python knows all 2231 HTML5 names; prompts realistically use only these others (an unknown name is left as
// text, which is also what Python does with names it does not know).
const OTHER_ENTITIES = new Map<string, string>([
  ["apos", "'"],
  ["hellip", "\u2026"],
  ["ndash", "\u2013"],
  ["mdash", "\u2014"],
  ["lsquo", "\u2018"],
  ["rsquo", "\u2019"],
  ["sbquo", "\u201a"],
  ["ldquo", "\u201c"],
  ["rdquo", "\u201d"],
  ["bdquo", "\u201e"],
  ["bull", "\u2022"],
  ["euro", "\u20ac"],
  ["trade", "\u2122"],
  ["dagger", "\u2020"],
  ["Dagger", "\u2021"],
  ["permil", "\u2030"],
  ["prime", "\u2032"],
  ["Prime", "\u2033"],
  ["larr", "\u2190"],
  ["rarr", "\u2192"],
  ["uarr", "\u2191"],
  ["darr", "\u2193"],
  ["harr", "\u2194"],
  ["hearts", "\u2665"],
  ["minus", "\u2212"],
  ["infin", "\u221e"],
  ["ne", "\u2260"],
  ["le", "\u2264"],
  ["ge", "\u2265"],
  ["thinsp", "\u2009"],
  ["ensp", "\u2002"],
  ["emsp", "\u2003"],
  ["zwj", "\u200d"],
  ["zwnj", "\u200c"],
  ["star", "\u2606"],
  // A name that starts with a legacy one must be listed, or the prefix rule would decode "&notin;" as "¬in;".
  ["notin", "\u2209"],
]);

// References to U+0080..U+009F mean the windows-1252 character of that byte (Node's TextDecoder treats
// "windows-1252" as Latin-1, so the table is spelled out; the five undefined bytes stay as they are).
const WINDOWS_1252_C1 = Array.from(
  "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f" +
    "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178",
);

// Python's html.unescape, one pass.
function htmlUnescape(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(CHARREF, (_match, ref: string) => (ref[0] === "#" ? numericCharref(ref) : namedCharref(ref)));
}

function numericCharref(ref: string): string {
  const hex = ref[1] === "x" || ref[1] === "X";
  const num = parseInt(ref.slice(hex ? 2 : 1).replace(/;$/, ""), hex ? 16 : 10);
  // HTML5's replacements for references that are not valid characters, as Python applies them.
  if (num === 0) return "\ufffd";
  if (num === 0x0d) return "\r";
  if (num >= 0x80 && num <= 0x9f) return WINDOWS_1252_C1[num - 0x80];
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return "\ufffd";
  const control = (num >= 0x01 && num <= 0x08) || num === 0x0b || (num >= 0x0e && num <= 0x1f) || num === 0x7f;
  const nonCharacter = (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe;
  return control || nonCharacter ? "" : String.fromCodePoint(num);
}

function namedCharref(ref: string): string {
  const name = ref.endsWith(";") ? ref.slice(0, -1) : ref;
  if (ref.endsWith(";")) {
    const full = LEGACY_ENTITIES.get(name) ?? OTHER_ENTITIES.get(name);
    if (full !== undefined) return full;
  } else if (LEGACY_ENTITIES.has(ref)) {
    return LEGACY_ENTITIES.get(ref) as string;
  }
  // Longest legacy name that is a proper prefix (at least 2 characters), the rest kept as text.
  for (let n = ref.length - 1; n > 1; n--) {
    const value = LEGACY_ENTITIES.get(ref.slice(0, n));
    if (value !== undefined) return value + ref.slice(n);
  }
  return "&" + ref;
}

/** `vocab.json` (parsed and checked to be an object) and `merges.txt` of a diffusers `tokenizer/` folder. */
export function readTokenizerFolder(dir: string): ClipVocabFiles {
  const read = (name: string): string => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new Error(`CLIP tokenizer folder ${dir}: missing ${name}`);
    return fs.readFileSync(file, "utf8");
  };
  let vocab: unknown;
  try {
    vocab = JSON.parse(read("vocab.json"));
  } catch (e) {
    throw new Error(`CLIP tokenizer folder ${dir}: vocab.json is not JSON (${(e as Error).message})`);
  }
  if (vocab === null || typeof vocab !== "object" || Array.isArray(vocab)) {
    throw new Error(`CLIP tokenizer folder ${dir}: vocab.json is not an object of token → id`);
  }
  return { vocab: vocab as Record<string, number>, merges: read("merges.txt") };
}
