import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SafetensorsFile } from "../src/checkpoint/safetensors";
import { ClipTokenizer } from "../src/tokenizer/clipTokenizer";
import {
  buildClipVocabFromGz,
  buildSmallClipVocab,
  CLIP_FIRST_MERGES,
  END_OF_TEXT,
  readClipMerges,
  START_OF_TEXT,
} from "../src/tokenizer/clipVocab";
import { getWordIndices, requireWordIndices } from "../src/tokenizer/wordIndices";

// Tests run from the project root; the shared data sits beside it.
const SHARED = path.resolve(process.cwd(), "../shared");
const PUBLIC = path.join(SHARED, "reference/public");
const TOKENIZER_DIR = path.join(PUBLIC, "model/tokenizer");
const MERGE_LIST_GZ = path.join(SHARED, "data/clip/bpe_simple_vocab_16e6.txt.gz");

interface PromptRef {
  key: string;
  text: string;
  row: number;
  n_bpe_tokens_untruncated: number;
}
interface TextRefs {
  prompts: PromptRef[];
  decoded_tokens: Record<string, string[]>;
}

const textRefs = (JSON.parse(fs.readFileSync(path.join(PUBLIC, "refs.json"), "utf8")) as { text: TextRefs }).text;
const tokenizer = ClipTokenizer.fromFolder(TOKENIZER_DIR);
const prompt = (key: string): string => {
  const found = textRefs.prompts.find((p) => p.key === key);
  if (!found) throw new Error(`refs.json has no prompt "${key}"`);
  return found.text;
};

test("token ids of every reference prompt equal text.token_ids", () => {
  const refIds = SafetensorsFile.open(path.join(PUBLIC, "refs.safetensors")).readInt64("text.token_ids");
  const width = tokenizer.maxLength;
  assert.equal(refIds.length, textRefs.prompts.length * width);
  for (const p of textRefs.prompts) {
    const expected = Array.from(refIds.subarray(p.row * width, (p.row + 1) * width), Number);
    assert.deepEqual(tokenizer.tokenize(p.text).ids, expected, `prompt "${p.key}"`);
  }
});

test("untruncated lengths, truncation flag and length of the reference prompts", () => {
  for (const p of textRefs.prompts) {
    const bpe = tokenizer.encode(p.text);
    const tokenized = tokenizer.tokenize(p.text);
    assert.equal(bpe.length, p.n_bpe_tokens_untruncated, p.key);
    assert.equal(tokenized.truncated, p.n_bpe_tokens_untruncated > 75, p.key);
    assert.equal(tokenized.length, Math.min(p.n_bpe_tokens_untruncated + 2, 77), p.key);
    assert.equal(tokenized.ids.length, 77, p.key);
  }
  assert.equal(tokenizer.tokenize(prompt("long")).truncated, true);
  assert.equal(tokenizer.tokenize(prompt("long")).ids[76], tokenizer.endId);
});

test("special ids come from vocab.json and padding is <|endoftext|>", () => {
  assert.equal(tokenizer.startId, 49406);
  assert.equal(tokenizer.endId, 49407);
  assert.equal(tokenizer.vocabSize, 49408);
  assert.deepEqual(tokenizer.tokenize("").ids, [49406, ...new Array<number>(76).fill(49407)]);
});

test("per-token decoding equals the reference's decoded tokens (U+FFFD for partial characters)", () => {
  for (const [key, expected] of Object.entries(textRefs.decoded_tokens)) {
    const ids = [tokenizer.startId, ...tokenizer.encode(prompt(key)), tokenizer.endId];
    assert.deepEqual(
      ids.map((id) => tokenizer.decode([id])),
      expected,
      key,
    );
  }
});

test("cleanup: html entities unescaped twice, white space collapsed, lower case", () => {
  assert.deepEqual(tokenizer.encode("a &amp;amp; b"), tokenizer.encode("a & b"));
  assert.deepEqual(tokenizer.encode("  A\tSILVER\n\u3000jeep  "), tokenizer.encode("a silver jeep"));
  assert.deepEqual(tokenizer.encode("it&#39;s"), tokenizer.encode("it's"));
  assert.equal(tokenizer.decode(tokenizer.encode("A Silver  JEEP")), "a silver jeep");
});

test("word indices of the FateZero examples", () => {
  const src = prompt("src");
  const comma = prompt("src_comma");
  assert.deepEqual(getWordIndices(src, "jeep", tokenizer), [3]);
  assert.deepEqual(getWordIndices(src, "a", tokenizer), [1, 6]);
  assert.deepEqual(getWordIndices(src, 2, tokenizer), [3]);
  assert.deepEqual(getWordIndices(src, "countryside", tokenizer), [11]);
  // The trailing comma belongs to the word and is a token of its own.
  assert.deepEqual(getWordIndices(comma, "countryside", tokenizer), []);
  assert.deepEqual(getWordIndices(comma, "countryside,", tokenizer), [11, 12]);
  assert.deepEqual(getWordIndices(prompt("watercolor"), "watercolor", tokenizer), [1]);
  assert.deepEqual(getWordIndices(prompt("porsche"), "Porsche", tokenizer), [2]);
  assert.deepEqual(getWordIndices(prompt("porsche"), "porsche", tokenizer), []);
  assert.deepEqual(getWordIndices(src, "car", tokenizer), []);
});

test("word indices of multi-token words, and the drift after multi-byte characters", () => {
  const unicode = prompt("unicode");
  assert.deepEqual(getWordIndices(unicode, "911,", tokenizer), [4, 5, 6, 7]);
  assert.deepEqual(getWordIndices(unicode, "naïve", tokenizer), [15, 16, 17]);
  // "ß" is two single-byte tokens decoding to two U+FFFD: the count overshoots and later words shift by one.
  assert.deepEqual(getWordIndices(unicode, "Straße", tokenizer), [18, 19, 20]);
  assert.deepEqual(getWordIndices(unicode, "—", tokenizer), [21]);
  // An emoji decoded whole counts as one character, as in Python.
  assert.deepEqual(getWordIndices(unicode, "(2023)", tokenizer), [25, 26, 27, 28, 29, 30]);
  assert.deepEqual(getWordIndices("a pink jeepney driving", "jeepney", tokenizer), [3, 4]);
  assert.deepEqual(getWordIndices("a pink jeepney driving", "driving", tokenizer), [5]);
  assert.deepEqual(getWordIndices("a Porsche-style car", "Porsche-style", tokenizer), [2, 3, 4]);
  assert.deepEqual(getWordIndices("a Porsche-style car", "car", tokenizer), [5]);
});

test("requireWordIndices returns positions or names the word and the prompt", () => {
  const comma = prompt("src_comma");
  assert.deepEqual(requireWordIndices(comma, "jeep", tokenizer), [3]);
  assert.throws(
    () => requireWordIndices(comma, "countryside", tokenizer),
    (e: Error) => e.message.includes('"countryside"') && e.message.includes(JSON.stringify(comma)),
  );
});

test("fromFolder names the missing file", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clip-tokenizer-"));
  try {
    assert.throws(() => ClipTokenizer.fromFolder(dir), /missing vocab\.json/);
    fs.copyFileSync(path.join(TOKENIZER_DIR, "vocab.json"), path.join(dir, "vocab.json"));
    assert.throws(() => ClipTokenizer.fromFolder(dir), /missing merges\.txt/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("vocabulary built from OpenAI's merge list equals the fixture's vocab.json and merges.txt", () => {
  const built = buildClipVocabFromGz(MERGE_LIST_GZ);
  const fixtureVocab = JSON.parse(fs.readFileSync(path.join(TOKENIZER_DIR, "vocab.json"), "utf8")) as object;
  assert.deepEqual(built.vocab, fixtureVocab);
  const lines = (text: string): string[] => text.split("\n").filter((l) => l !== "" && !l.startsWith("#version"));
  assert.deepEqual(lines(built.merges), lines(fs.readFileSync(path.join(TOKENIZER_DIR, "merges.txt"), "utf8")));
});

test("embedded first merges equal the start of OpenAI's merge list", () => {
  assert.deepEqual(CLIP_FIRST_MERGES, readClipMerges(MERGE_LIST_GZ).slice(0, CLIP_FIRST_MERGES.length));
});

test("small vocabulary: 512 byte symbols + merges + specials, still tokenizes any text", () => {
  const small = buildSmallClipVocab(200);
  assert.equal(Object.keys(small.vocab).length, 512 + 200 + 2);
  assert.equal(small.vocab[START_OF_TEXT], 712);
  assert.equal(small.vocab[END_OF_TEXT], 713);
  const tok = new ClipTokenizer(small.vocab, small.merges);
  const text = "a silver jeep driving down a curvy road in the countryside";
  const { ids, length } = tok.tokenize(text);
  assert.equal(ids[0], 712);
  assert.equal(ids[length - 1], 713);
  assert.ok(ids.every((id) => id <= 713));
  assert.equal(tok.decode(tok.encode(text)), text);
  assert.ok(getWordIndices(text, "jeep", tok).length >= 1);
  assert.throws(() => buildSmallClipVocab(257), /mergeCount/);
});
