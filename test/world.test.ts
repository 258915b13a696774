// The procedural world: deterministic clips, masks that match what is drawn, captions from the grammar, a
// tokenizer that knows every world word, the `world` command's files and errors, and the edit metrics.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { ClipTokenizer } from "../src/tokenizer/clipTokenizer";
import { vehicleWords, worldCaption } from "../src/world/captions";
import { dilateMask, dominantColour, downsampleMask, frameChange, maskIou, psnr } from "../src/world/editMetrics";
import { checkSeed } from "../src/world/layout";
import { makeSampleClip, SAMPLE_CLIP_PROMPT } from "../src/world/sampleClip";
import { trainingAttributes, TRAINING_SEEDS } from "../src/world/trainingData";
import { MASK_NAMES, SAMPLE_ATTRIBUTES, type WorldAttributes } from "../src/world/vocabulary";
import { renderWorldClip, worldVideoSeed } from "../src/world/worldClip";
import { worldVocabFiles, worldWords } from "../src/world/worldVocab";
import { tempDir } from "./sharedData";

const sha = (bytes: Uint8Array) => crypto.createHash("sha256").update(bytes).digest("hex");
const RED_CAR: WorldAttributes = { kind: "car", colour: "red", setting: "countryside", style: "plain" };

test("the same seed and attributes give the same bytes; another seed another layout", () => {
  const a = renderWorldClip(42, RED_CAR, { frames: 3, size: 64 });
  const b = renderWorldClip(42, RED_CAR, { frames: 3, size: 64 });
  assert.equal(sha(a.clip.frames), sha(b.clip.frames));
  for (const name of MASK_NAMES) assert.equal(sha(a.masks[name]), sha(b.masks[name]), name);
  assert.notEqual(sha(renderWorldClip(43, RED_CAR, { frames: 3, size: 64 }).clip.frames), sha(a.clip.frames));
});

test("the sample clip is the world's seed of truth: the same bytes as before the world existed", () => {
  // Hashes of makeSampleClip from the commit before the world renderer replaced its drawing code.
  assert.equal(sha(makeSampleClip(8, 256).frames), "e197aedb5c74054977502a6a7b01dc3e3714b4e07338543b04afb7f26ce4a932");
  assert.equal(sha(makeSampleClip(3, 128).frames), "f9cb58886e541cf09ccd0c1b359e1447259331af83f817cbdb0f4657c165f0c4");
  assert.equal(SAMPLE_CLIP_PROMPT, "a red car driving down a curvy road in the countryside");
});

test("the vehicle mask covers exactly what a colour change repaints; every pixel is in a mask", () => {
  const F = 4;
  const S = 96;
  const red = renderWorldClip(7, RED_CAR, { frames: F, size: S });
  const blue = renderWorldClip(7, { ...RED_CAR, colour: "blue" }, { frames: F, size: S });
  const mask = red.masks.vehicle;
  const near = dilateMask(mask, F, S, S, 1);
  let inside = 0;
  let changedInside = 0;
  for (let p = 0; p < F * S * S; p++) {
    const changed = [0, 1, 2].some((c) => red.clip.frames[p * 3 + c] !== blue.clip.frames[p * 3 + c]);
    assert.ok(!changed || near[p], `pixel ${p} changed outside the vehicle`);
    if (mask[p]) {
      inside++;
      if (changed) changedInside++;
    }
  }
  assert.ok(inside > F * 100, `the vehicle covers ${inside} pixels`);
  assert.ok(changedInside / inside > 0.6, `most vehicle pixels are body: ${changedInside}/${inside} changed`);
  // A pixel is in the mask of each thing covering at least half of it: one thing, or two sharing it evenly.
  for (let p = 0; p < F * S * S; p++) {
    const on = MASK_NAMES.filter((n) => red.masks[n][p]).length;
    assert.ok(on === 1 || on === 2, `pixel ${p} is in ${on} masks`);
  }
  assert.equal(dominantColour(red.clip.frames, mask), "red");
  assert.equal(dominantColour(blue.clip.frames, mask), "blue");
});

test("re-rendering keeps the motion: the vehicle mask does not depend on colour, setting or style", () => {
  const a = renderWorldClip(9, RED_CAR, { frames: 3, size: 64 });
  for (const other of [
    { colour: "yellow" },
    { setting: "snow" },
    { setting: "night" },
    { style: "watercolor" },
    { style: "sketch" },
  ] as Partial<WorldAttributes>[]) {
    const b = renderWorldClip(9, { ...RED_CAR, ...other }, { frames: 3, size: 64 });
    assert.equal(sha(b.masks.vehicle), sha(a.masks.vehicle), JSON.stringify(other));
    assert.notEqual(sha(b.clip.frames), sha(a.clip.frames), JSON.stringify(other));
  }
  const truck = renderWorldClip(9, { ...RED_CAR, kind: "truck" }, { frames: 3, size: 64 });
  assert.ok(maskIou(truck.masks.vehicle, a.masks.vehicle) < 0.9, "another vehicle kind has another shape");
});

test("renderWorldClip refuses attributes outside the vocabulary (a notebook's typo), naming the allowed words", () => {
  for (const [attributes, message] of [
    [{ ...RED_CAR, kind: "plane" }, /unknown kind "plane"; one of: car, truck, bus/],
    [{ ...RED_CAR, colour: "purple" }, /unknown colour "purple"; one of: red, blue/],
    [{ ...RED_CAR, setting: "moon" }, /unknown setting "moon"/],
    [{ ...RED_CAR, style: "oil" }, /unknown style "oil"/],
  ] as const)
    assert.throws(() => renderWorldClip(1, attributes as unknown as WorldAttributes, { frames: 1, size: 32 }), message);
});

test("captions follow the grammar and name the vehicle's words", () => {
  const a: WorldAttributes = { kind: "truck", colour: "green", setting: "night", style: "watercolor" };
  assert.equal(worldCaption(a), "a watercolor painting of a green truck driving down a curvy road at night");
  assert.equal(
    worldCaption({ ...a, style: "sketch", setting: "snow" }, 1),
    "a pencil sketch of a green truck driving along a winding road in the snow",
  );
  assert.deepEqual(vehicleWords(a), ["green", "truck"]);
  const clip = renderWorldClip(1, a, { frames: 1, size: 32 });
  assert.equal(clip.captions[0], worldCaption(a));
  assert.equal(new Set(clip.captions).size, clip.captions.length);
});

test("the world tokenizer spells every world word as one token and still tokenizes other text", () => {
  const files = worldVocabFiles();
  const tokenizer = new ClipTokenizer(files.vocab, files.merges);
  for (const word of worldWords()) assert.equal(tokenizer.encode(word).length, 1, word);
  assert.ok(tokenizer.encode("a purple jeep").length > 3, "unknown words fall back to letters");
  assert.equal(tokenizer.tokenize(worldCaption(SAMPLE_ATTRIBUTES)).length, 2 + 11, "start, one token per word, end");
});

test("training clips come from their own seed range with every attribute value", () => {
  const seen = new Set<string>();
  for (let s = TRAINING_SEEDS; s < TRAINING_SEEDS + 400; s++) for (const v of Object.values(trainingAttributes(s))) seen.add(v);
  assert.equal(seen.size, 3 + 6 + 4 + 3);
  assert.throws(() => checkSeed(-1), /non-negative integer/);
  assert.throws(() => checkSeed(1.5), /non-negative integer/);
  assert.equal(worldVideoSeed("world:12"), 12);
  assert.equal(worldVideoSeed("clip.mp4"), undefined);
  assert.throws(() => worldVideoSeed("world:x"), /world:<seed>/);
});

test("edit metrics: PSNR, IoU, downsampled masks, flicker", () => {
  const a = Uint8Array.from([0, 0, 0, 10, 10, 10]);
  const b = Uint8Array.from([0, 0, 0, 20, 20, 20]);
  assert.equal(psnr(a, a), Infinity);
  assert.ok(Math.abs(psnr(a, b) - 10 * Math.log10((255 * 255) / 50)) < 1e-9);
  assert.equal(psnr(a, b, Uint8Array.from([1, 0])), Infinity);
  assert.equal(maskIou(Uint8Array.from([1, 1, 0]), Uint8Array.from([0, 1, 1])), 1 / 3);
  assert.deepEqual([...downsampleMask(Uint8Array.from([1, 1, 0, 0, 1, 0, 0, 0]), 1, 2, 4, 2)], [1, 0]);
  assert.equal(frameChange(Uint8Array.from([0, 0, 0, 3, 3, 3]), 2), 3);
});

const BIN = path.resolve("bin/fatezero.js");
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

test("`fatezero world` writes frames, a video, masks per thing and the captions", () => {
  const out = path.join(tempDir("world"), "clip");
  const r = run("world", "--seed", "5", "--out", out, "--kind", "bus", "--colour", "white", "--frames", "2", "--size", "64");
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(fs.readFileSync(path.join(out, "world.json"), "utf8"));
  assert.equal(info.captions[0], "a white bus driving down a curvy road in the countryside");
  assert.deepEqual(fs.readdirSync(path.join(out, "frames")), ["00000.png", "00001.png"]);
  for (const name of MASK_NAMES) assert.equal(fs.readdirSync(path.join(out, "masks", name)).length, 2, name);
  assert.ok(fs.statSync(path.join(out, "clip.mp4")).size > 0);
});

test("`fatezero world` replaces an earlier clip whole, refuses a folder of other files, and cleans a killed run's folder", () => {
  const parent = tempDir("world-replace");
  const out = path.join(parent, "clip");
  const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  const leftover = path.join(parent, `.clip.${dead}.0123abcd.staging`);
  fs.mkdirSync(path.join(leftover, "frames"), { recursive: true });
  assert.equal(run("world", "--seed", "5", "--frames", "3", "--size", "32", "--out", out).status, 0);
  assert.ok(!fs.existsSync(leftover), "a dead writer's staging folder is removed");
  const r = run("world", "--seed", "6", "--frames", "2", "--size", "32", "--out", out);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(path.join(out, "frames")), ["00000.png", "00001.png"]);
  for (const name of MASK_NAMES) assert.equal(fs.readdirSync(path.join(out, "masks", name)).length, 2, name);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, "world.json"), "utf8")).seed, 6);
  assert.deepEqual(fs.readdirSync(parent), ["clip"]);
  assert.equal(r.stdout.trim().split("\n").at(-1), `${2 + 1 + 2 * MASK_NAMES.length + 1} files in ${out}`);

  const mine = path.join(parent, "mine");
  fs.mkdirSync(path.join(mine, "frames"), { recursive: true });
  fs.writeFileSync(path.join(mine, "frames", "00000.png"), "my own frame");
  fs.writeFileSync(path.join(mine, "world.json"), "{}");
  fs.writeFileSync(path.join(mine, "notes.txt"), "mine");
  const refused = run("world", "--seed", "5", "--out", mine);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /--out .*mine: holds frames, notes\.txt, world\.json; it has no record of fatezero world \(\.fatezero-output\.json\): give a new or empty folder/,
  );
  assert.doesNotMatch(refused.stderr, /\n\s+at /);
  assert.equal(fs.readFileSync(path.join(mine, "frames", "00000.png"), "utf8"), "my own frame");
  assert.deepEqual(fs.readdirSync(mine).sort(), ["frames", "notes.txt", "world.json"]);
});

test("`fatezero world`, `world-bench` and `world-training-data` refuse bad words, seeds, models and folders with exit 2", () => {
  const out = tempDir("world-bad");
  for (const [args, message] of [
    [["--seed", "1", "--colour", "purple"], /unknown --colour "purple"; one of: red, blue/],
    [["--seed", "x"], /--seed must be a non-negative integer, got "x"/],
    [["--seed", "1.5"], /--seed must be a non-negative integer/],
    [["--seed", "99999999999999999999"], /--seed must be at most 9007199254740991, got "99999999999999999999"/],
    [["--seed", "1", "--style", "oil"], /unknown --style "oil"/],
    [["--seed", "1", "--frames", "0"], /--frames: expected an integer in 1…10000, got "0"/],
  ] as const) {
    const r = run("world", ...args, "--out", out);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  for (const seed of ["x", "-1", "1.5"]) {
    const r = run("world-bench", "--seed", seed, "--clips", "1");
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--seed must be a non-negative integer, got "${seed}"`));
  }
  const bench = run("world-bench", "--seed", String(TRAINING_SEEDS), "--clips", "1");
  assert.equal(bench.status, 2);
  assert.match(bench.stderr, /training clips' seeds/);
  const noModel = run("world-bench", "--model", path.join(out, "nowhere"), "--clips", "1");
  assert.equal(noModel.status, 2, noModel.stderr);
  assert.match(noModel.stderr, /model folder .*nowhere does not exist/);
  const file = path.join(out, "a-file");
  fs.writeFileSync(file, "");
  for (const target of [file, path.join(file, "below")]) {
    const data = run("world-training-data", "--out", target, "--clips", "1");
    assert.equal(data.status, 2, data.stderr);
    assert.match(data.stderr, /--out .*a-file(\/below)?: (exists and is not a folder|.*a-file is not a folder)/);
  }
});
