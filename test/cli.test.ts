// The `fatezero` command as a user runs it: exit codes, messages, dry-run plans and a real tiny edit.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { ffmpegPath } from "../src/video/ffmpeg";
import { readVideo } from "../src/video/readVideo";
import { WORLD_MODEL_DIR } from "../src/world/worldModel";
import { SHARED, tempDir } from "./sharedData";

const BIN = path.resolve("bin/fatezero.js");
const cache = tempDir("cli-cache");
const work = tempDir("cli-work");
const CAR_TURN = path.join(SHARED, "data/car-turn");
const CONFIGS = path.join(SHARED, "data/fatezero-configs");

function fatezero(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, FATEZERO_CACHE: cache },
    timeout: 300_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : e.name.endsWith(".yaml") ? [path.join(dir, e.name)] : []));
}

test("every official edit config resolves with --model tiny --video world:13 --dry-run; tune/ configs are refused", () => {
  const files = yamlFiles(CONFIGS);
  assert.ok(files.length >= 20);
  for (const file of files) {
    // A world clip is made at any length; car-turn's 8 frames are fewer than most configs sample.
    const r = fatezero("edit", "--config", file, "--model", "tiny", "--video", "world:13", "--dry-run", "--json");
    if (file.includes(`${path.sep}tune${path.sep}`)) {
      assert.equal(r.code, 2, file);
      assert.match(r.err, /train/i, file);
      continue;
    }
    assert.equal(r.code, 0, `${file}: ${r.err}`);
    const plan = JSON.parse(r.out);
    assert.ok(plan.edits.length >= 1 && plan.layers.length > 0 && plan.frames.length >= 1, file);
  }
});

test("bad input gives a clear message and exit code 2", () => {
  const aFile = path.join(work, "a-file.txt");
  fs.writeFileSync(aFile, "not a notebook");
  const cases: [string[], RegExp][] = [
    [["cache", "list", "--cache-dir", path.join(work, "no-cache")], /--cache-dir .*no-cache: no such folder/],
    [["cache", "prune", "--cache-dir", aFile], /--cache-dir: .*a-file\.txt is not a folder/],
    [["kernel", "install", "--prefix", aFile], /--prefix: .*a-file\.txt is not a folder/],
    [["widgets", "install", "--prefix", path.join(aFile, "sub")], /--prefix: .*a-file\.txt is not a folder/],
    [["reference", path.join(work, "nowhere")], /fixture .*nowhere: missing refs\.json/],
    [["export-html", aFile], /a-file\.txt is not a notebook/],
    [["edit", "--dry-run"], /--target/],
    [["edit", "--target", "a jeep", "--size", "100", "--dry-run"], /multiple of 64/],
    [["edit", "--target", "a jeep", "--blend-words", "tractor", "--dry-run"], /"tractor" not in the source prompt/],
    [["edit", "--config", path.join(work, "missing.yaml"), "--dry-run"], /no such file/],
    [["edit", "--target", "a jeep", "--model", path.join(work, "nowhere"), "--dry-run"], /does not exist/],
    [["edit", "--video", CAR_TURN, "--target", "a jeep", "--dry-run"], /--source/],
    [
      ["edit", "--video", "world:x1", "--target", "a jeep", "--dry-run"],
      /world:x1: a world clip is world:<seed> with a non-negative integer seed/,
    ],
    [
      ["edit", "--target", "a jeep", "--out", path.join(work, "edit.avi"), "--dry-run"],
      /edit\.avi: give a \.mp4 or \.gif file, or a folder/,
    ],
    [["make-tiny-model", CONFIGS], /holds .*; overwrite \(--overwrite\) replaces it/],
    [["edit", "--target", "a jeep", "--steps", "zero", "--dry-run"], /--steps: expected an integer in 1…1000/],
    [["edit", "--target", "a jeep", "--frames", "-1", "--dry-run"], /--frames -1 takes every frame of a video file or frame folder/],
    [["edit", "--target", "a jeep", "--frames", "20", "--frame-chunk", "0", "--dry-run"], /--frame-chunk: expected an integer/],
    [["edit", "--target", "a jeep", "--inversion-iterations", "-1", "--dry-run"], /--inversion-iterations: expected an integer in 0…50/],
    [["world-bench", "--inversion-iterations", "51"], /--inversion-iterations: expected an integer in 0…50/],
    [
      ["edit", "--video", path.join(work, "nowhere.mp4"), "--source", "a car", "--target", "a jeep", "--frames", "-1", "--dry-run"],
      /no such file/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = fatezero(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message, args.join(" "));
  }
});

test("a world clip needs no --source: its caption is the source prompt", () => {
  const target = "a blue car driving down a curvy road in the countryside";
  const r = fatezero("edit", "--video", "world:42", "--target", target, "--dry-run", "--json");
  assert.equal(r.code, 0, r.err);
  const plan = JSON.parse(r.out);
  assert.equal(plan.video, "world:42");
  assert.deepEqual(plan.edits.at(-1).sourcePrompt, "a red car driving down a curvy road in the countryside");
  assert.deepEqual(plan.edits.at(-1).prompt, target);
});

test("--inversion-iterations reaches the plan, its text and JSON; without it the inversion is FateZero's plain DDIM", () => {
  const target = "a blue car driving down a curvy road in the countryside";
  const iterations = (...more: string[]) => {
    const r = fatezero("edit", "--target", target, ...more, "--dry-run", "--json");
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out).inversionIterations;
  };
  assert.equal(iterations(), 0);
  assert.equal(iterations("--inversion-iterations", "2"), 2);
  const text = fatezero("edit", "--target", target, "--inversion-iterations", "2", "--dry-run");
  assert.match(text.out, /inversion .*DDIM with 2 fixed-point iterations a step \(3 UNet calls a step\)/);
  assert.match(fatezero("edit", "--target", target, "--dry-run").out, /inversion .*plain DDIM \(FateZero\)/);
});

test("a model folder runs at the size it was trained at unless --size says otherwise", () => {
  // A copy of the world model whose UNet config says sample_size 32 (the weights do not depend on it).
  const folder = path.join(work, "world-copy");
  fs.cpSync(WORLD_MODEL_DIR, folder, { recursive: true });
  const size = (model: string, ...more: string[]) => {
    const r = fatezero("edit", "--model", model, "--target", "a blue car driving down a curvy road", ...more, "--dry-run", "--json");
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out).size;
  };
  assert.deepEqual(size(folder), [128, 128]);
  const unetConfig = path.join(folder, "unet/config.json");
  fs.writeFileSync(unetConfig, JSON.stringify({ ...JSON.parse(fs.readFileSync(unetConfig, "utf8")), sample_size: 32 }));
  assert.deepEqual(size(folder), [256, 256]);
  assert.deepEqual(size(folder, "--size", "192"), [192, 192]);
  assert.deepEqual(size("tiny"), [256, 256]);
});

test("--frames -1 takes every frame of a folder or video file; a long clip's plan names its UNet windows", () => {
  const folder = fatezero("edit", "--video", CAR_TURN, "--source", "a jeep", "--target", "a car", "--frames", "-1", "--dry-run", "--json");
  assert.equal(folder.code, 0, folder.err);
  assert.deepEqual(JSON.parse(folder.out).frames, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(JSON.parse(folder.out).frameChunk, 8, "8 frames run whole");
  const mp4 = path.join(work, "car-turn.mp4");
  const made = spawnSync(ffmpegPath(), [
    "-v",
    "error",
    "-y",
    "-framerate",
    "10",
    "-i",
    path.join(CAR_TURN, "%05d.png"),
    "-pix_fmt",
    "yuv420p",
    mp4,
  ]);
  assert.equal(made.status, 0, String(made.stderr));
  const file = fatezero("edit", "--video", mp4, "--source", "a jeep", "--target", "a car", "--frames", "-1", "--dry-run", "--json");
  assert.equal(file.code, 0, file.err);
  assert.equal(JSON.parse(file.out).frames.length, 8);
  const long = fatezero("edit", "--target", "a blue car", "--frames", "48", "--size", "256", "--dry-run");
  assert.equal(long.code, 0, long.err);
  assert.match(long.out, /frames 0–47 \(48\), through the UNet in windows of 8 frames/);
});

test("too few frames and a corrupt video fail cleanly without writing output", () => {
  const out = path.join(work, "never.mp4");
  const few = fatezero(
    "edit",
    "--video",
    CAR_TURN,
    "--source",
    "a jeep",
    "--target",
    "a car",
    "--frames",
    "9",
    "--size",
    "64",
    "--steps",
    "1",
    "--out",
    out,
  );
  assert.equal(few.code, 2, few.err);
  assert.match(few.err, /8 frames.*9 frames were requested/s);
  const bad = path.join(work, "bad.mp4");
  fs.writeFileSync(bad, "this is not a video");
  const corrupt = fatezero("edit", "--video", bad, "--source", "a jeep", "--target", "a car", "--size", "64", "--steps", "1", "--out", out);
  assert.equal(corrupt.code, 2, corrupt.err);
  assert.match(corrupt.err, /bad\.mp4/);
  assert.ok(!fs.existsSync(out));
});

test("the default edit runs end to end on the world model and writes the video and its grid", async () => {
  const out = path.join(work, "edit.mp4");
  const r = fatezero(
    "edit",
    "--target",
    "a red car driving down a curvy road in the snow",
    "--frames",
    "2",
    "--size",
    "128",
    "--steps",
    "3",
    "--out",
    out,
  );
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out.trim().split("\n"), [out, path.join(work, "edit.grid.mp4")]);
  const clip = await readVideo(out, { size: 128, nSampleFrame: -1 });
  assert.equal(clip.count, 2);
  const grid = await readVideo(path.join(work, "edit.grid.mp4"), { size: [192, 384], nSampleFrame: -1 });
  assert.equal(grid.count, 2);
  assert.match(r.err, /invert .*3\/3/);
});
