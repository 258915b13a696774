// Hostile and careless input, replayed so it stays handled: each case is refused before any compute with a
// message naming the flag or file:line and key (exit 2, no stack trace), nothing of the user's is replaced
// or changed, and caches recover from tampering and from killed runs. (The kernel's cases — thrown values,
// process.exit, replayed messages, odd msg_types — are in test/python/test_kernel_client.py.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { loadModel, modelIdentity } from "../src/fatezero/loadModel";
import { openModelFolder } from "../src/networks/modelFolder";
import { writeGraph } from "../src/onnx/session";
import { TextEncoder } from "../src/networks/textEncoder";
import { textEncoderConfig } from "../src/networks/configs";
import { CheckpointWeights } from "../src/onnx/weightSource";
import { buildTextEncoderGraph } from "../src/networks/textEncoder";
import { pruneCache } from "../src/pipeline/cacheFolder";
import { writeMp4 } from "../src/video/writeVideo";
import { makeSampleClip } from "../src/world/sampleClip";
import { assertRefused, runCli, type CliResult } from "./support/cliRun";
import { FIXTURE, fixtureModelCopy, SHARED, tempDir } from "./sharedData";

const cache = tempDir("hostile-cache");
const MODEL = path.join(FIXTURE, "model");

function fatezero(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli(args, { ...process.env, FATEZERO_CACHE: cache, ...env });
}

const refused = assertRefused;

const modelCopy = fixtureModelCopy;

function editJson(file: string, change: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  change(json);
  fs.writeFileSync(file, JSON.stringify(json));
}

test("an output that would replace the input video is refused before any work (the video is untouched)", async () => {
  const dir = tempDir("hostile-out");
  const video = path.join(dir, "clip.mp4");
  await writeMp4(video, makeSampleClip(2, 64));
  const before = fs.readFileSync(video);
  const args = [
    "edit",
    "--model",
    "tiny",
    "--video",
    video,
    "--source",
    "a red car",
    "--target",
    "a blue car",
    "--size",
    "64",
    "--frames",
    "2",
    "--steps",
    "1",
  ];
  refused(fatezero([...args, "--out", video]), /--out .*clip\.mp4: would write .*clip\.mp4, which is the input video/, "--out = --video");
  refused(
    fatezero([...args, "--out", path.join(dir, "clip.grid.mp4").replace(".grid", "")]),
    /which is the input video/,
    "same file, other spelling",
  );
  assert.deepEqual(fs.readFileSync(video), before);
});

test("prompts: over CLIP's context or with a control character, refused before the inversion", () => {
  const long = Array.from({ length: 80 }, () => "car").join(" ");
  refused(
    fatezero(["edit", "--model", "tiny", "--target", long, "--dry-run"]),
    /edit 1's prompt has 80 tokens; the text encoder reads at most 75/,
    "long target",
  );
  refused(
    fatezero(["edit", "--model", "tiny", "--source", long, "--target", "a car", "--dry-run"]),
    /the source prompt has 80 tokens/,
    "long source",
  );
  refused(fatezero(["edit", "--model", "tiny", "--target", "a blue\u001b[31m car", "--dry-run"]), /control character U\+001B/, "ESC");
});

test("sizes, frame counts and step counts beyond the machine or the schedule are refused with an estimate", () => {
  refused(
    fatezero(["edit", "--model", "tiny", "--target", "a car", "--size", "8192", "--dry-run"]),
    /need about [\d.]+ GB of memory, this machine has [\d.]+ GB.*--ignore-memory-limit/,
    "--size 8192",
  );
  refused(
    fatezero(["edit", "--model", "tiny", "--target", "a car", "--frames", "10000", "--dry-run"]),
    /need about .* GB of memory/,
    "--frames 10000",
  );
  refused(
    fatezero(["edit", "--model", "tiny", "--target", "a car", "--size", "9000", "--dry-run"]),
    /--size: at most 8192 pixels a side/,
    "--size 9000",
  );
  for (const steps of ["1001", "1e308", "99999999999999999999", "-3", "2.5"]) {
    refused(
      fatezero(["edit", "--model", "tiny", "--target", "a car", "--steps", steps, "--dry-run"]),
      /--steps: expected an integer in 1…1000/,
      `--steps ${steps}`,
    );
  }
  refused(
    fatezero(["edit", "--model", "tiny", "--target", "a car", "--frames", "99999999999999999999", "--dry-run"]),
    /--frames: expected an integer/,
    "--frames huge",
  );
  const ok = fatezero(["edit", "--model", "tiny", "--target", "a car", "--dry-run"]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.err, /memory: about [\d.]+ GB at the peak/);
});

test("--threshold without --blend-words, and unwritable outputs or caches, are refused before any work", () => {
  refused(
    fatezero(["edit", "--model", "tiny", "--target", "a car", "--threshold", "0.5", "--dry-run"]),
    /--threshold needs --blend-words/,
    "--threshold alone",
  );
  refused(
    fatezero(["edit", "--model", "tiny", "--target", "a car", "--out", "/proc/fatezero/out.mp4"]),
    /--out \/proc\/fatezero\/out\.mp4: cannot write in \/proc/,
    "unwritable --out",
  );
  refused(
    fatezero([
      "edit",
      "--model",
      "tiny",
      "--target",
      "a car",
      "--out",
      path.join(tempDir("ok-out"), "x.mp4"),
      "--cache-dir",
      "/proc/fatezero-cache",
    ]),
    /the cache folder \/proc\/fatezero-cache: cannot write/,
    "read-only cache",
  );
});

test("configs: interpolation bombs, huge or endless files, duplicate keys and numbers out of range fail fast with file:line", () => {
  const dir = tempDir("hostile-yaml");
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const levels = Array.from({ length: 11 }, (_, i) => `a${i + 1}: "${Array.from({ length: 10 }, () => `\${a${i}}`).join("")}"`);
  const bomb = write(
    "bomb.yaml",
    [
      'a0: "x"',
      ...levels,
      'dataset_config: {path: v, prompt: "${a11}"}',
      "editing_config: {num_inference_steps: 2, editing_prompts: [a]}",
      "pretrained_model_path: tiny",
    ].join("\n"),
  );
  refused(
    fatezero(["edit", "--config", bomb, "--dry-run"]),
    /bomb\.yaml:\d+: a\d+: interpolates to more than 100000 characters/,
    "interpolation fan-out",
  );
  const keys = write("keys.yaml", Array.from({ length: 110_000 }, (_, i) => `k${i}: ${i}`).join("\n"));
  refused(
    fatezero(["edit", "--config", keys, "--dry-run"]),
    /keys\.yaml: cannot read the config: \d+ bytes; a config is at most 1048576/,
    "110k keys",
  );
  const many = write("many.yaml", Array.from({ length: 60_000 }, (_, i) => `k${i}: ${i}`).join("\n"));
  refused(
    fatezero(["edit", "--config", many, "--dry-run"]),
    /many\.yaml:1: dataset_config: is required/,
    "60k keys are parsed (in one pass)",
  );
  refused(fatezero(["edit", "--config", "/dev/zero", "--dry-run"]), /\/dev\/zero: cannot read the config: not a regular file/, "/dev/zero");
  const dup = write("dup.yaml", "a: 1\nb: 2\na: 3\n");
  refused(fatezero(["edit", "--config", dup, "--dry-run"]), /dup\.yaml:3: YAML: map keys must be unique; "a" is repeated/, "duplicate key");
  const style = fs.readFileSync(path.join(SHARED, "data/fatezero-configs/style/jeep_watercolor.yaml"), "utf8");
  const frames = write("frames.yaml", style.replace(/n_sample_frame: \d+/, "n_sample_frame: 1e308"));
  refused(
    fatezero(["edit", "--config", frames, "--model", "tiny", "--video", "v", "--dry-run"]),
    /frames\.yaml:\d+: dataset_config\.n_sample_frame: expected an integer in 1…10000/,
    "n_sample_frame 1e308",
  );
  const steps = write("steps.yaml", style.replace(/num_inference_steps: \d+/, "num_inference_steps: 1001"));
  refused(
    fatezero(["edit", "--config", steps, "--model", "tiny", "--video", "v", "--dry-run"]),
    /num_inference_steps: expected an integer in 1…1000/,
    "1001 steps",
  );
});

test("configs: a word in none of the prompts is announced; eq_params words without values are refused", () => {
  const dir = tempDir("hostile-words");
  const style = fs.readFileSync(path.join(SHARED, "data/fatezero-configs/style/jeep_watercolor.yaml"), "utf8");
  const typo = path.join(dir, "typo.yaml");
  fs.writeFileSync(typo, style.replace('words: ["watercolor"]', 'words: ["watercolour"]'));
  const r = fatezero(["edit", "--config", typo, "--model", "tiny", "--video", "world:13", "--dry-run"]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.err,
    /warning: .*typo\.yaml:\d+: editing_config\.p2p_config\.1\.eq_params\.words\.0: "watercolour" is a word of none of the config's prompts, so it has no effect/,
  );
  const pairs = path.join(dir, "pairs.yaml");
  fs.writeFileSync(
    pairs,
    style.replace('words: ["watercolor"]', 'words: ["watercolor", "painting"]').replace(/values: \[10\]/, "values: [10]"),
  );
  refused(
    fatezero(["edit", "--config", pairs, "--model", "tiny", "--video", "v", "--dry-run"]),
    /pairs\.yaml:\d+: editing_config\.p2p_config\.1\.eq_params\.values: 2 words but 1 values: "painting" would silently not be reweighted/,
    "eq_params",
  );
});

test("model folders that do not fit their configs are bad input (exit 2), found before any work", () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      "unet-mismatch",
      (d) => editJson(path.join(d, "unet/config.json"), (j) => (j.block_out_channels = [16, 32, 32, 64])),
      /unet: tensor "[^"]+" has shape \[[\d, ]+\], .*unet\/config\.json needs \[/,
    ],
    [
      "groups-zero",
      (d) => editJson(path.join(d, "unet/config.json"), (j) => (j.norm_num_groups = 0)),
      /unet\/config\.json: config key "norm_num_groups" is 0/,
    ],
    [
      "scheduler",
      (d) => editJson(path.join(d, "scheduler/scheduler_config.json"), (j) => (j.beta_schedule = "cosine-ish")),
      /scheduler config .*scheduler_config\.json: .*beta_schedule/,
    ],
    ["vae-mismatch", (d) => editJson(path.join(d, "vae/config.json"), (j) => (j.latent_channels = 8)), /vae/],
  ];
  for (const [tag, change, message] of cases) {
    const model = modelCopy(tag, change);
    refused(fatezero(["edit", "--model", model, "--target", "a car", "--size", "128", "--dry-run"]), message, tag);
  }
});

test("a tensor whose shape has the right element count but not the right dimensions is refused", () => {
  const model = modelCopy("reshaped", (d) => {
    const file = path.join(d, "unet/diffusion_pytorch_model.safetensors");
    const bytes = fs.readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = bytes
      .subarray(8, 8 + n)
      .toString()
      .replace('"conv_in.weight":{"dtype":"F32","shape":[16,4,3,3]', '"conv_in.weight":{"dtype":"F32","shape":[16,4,9,1]');
    assert.equal(header.length, n);
    fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, 8), Buffer.from(header), bytes.subarray(8 + n)]));
  });
  refused(
    fatezero(["edit", "--model", model, "--target", "a car", "--size", "128", "--dry-run"]),
    /tensor "conv_in\.weight" has shape \[16, 4, 9, 1\], .* needs \[16, 4, 3, 3\]/,
    "[16,4,9,1]",
  );
});

test("the cache copies weights: making the cache read-only leaves the model alone; pruning frees a deleted model's copy", async () => {
  const dir = tempDir("hostile-store");
  const model = modelCopy("store", () => undefined);
  const te = openModelFolder(model).textEncoder;
  await TextEncoder.load(textEncoderConfig(te.config), te.weights, { cacheDir: dir });
  const weights = path.join(model, "text_encoder/model.safetensors");
  const copies = fs.readdirSync(path.join(dir, "weights")).filter((n) => n.endsWith(".safetensors"));
  assert.equal(copies.length, 1);
  assert.notEqual(fs.statSync(path.join(dir, "weights", copies[0])).ino, fs.statSync(weights).ino, "a copy, not a link to the user's file");
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) fs.chmodSync(path.join(dir, f), 0o555);
  assert.equal(fs.statSync(weights).mode & 0o777, 0o755, "the model's own file keeps its mode");
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) fs.chmodSync(path.join(dir, f), 0o755);
  fs.rmSync(model, { recursive: true });
  assert.ok(pruneCache(dir) > 0, "the deleted model's copy is freed");
  assert.deepEqual(fs.readdirSync(path.join(dir, "weights")), []);
});

test("a moved cache keeps working, and a weight record naming a user's file never makes pruning remove it", async () => {
  const first = tempDir("hostile-moved");
  const model = modelCopy("moved", () => undefined);
  const te = openModelFolder(model).textEncoder;
  const config = textEncoderConfig(te.config);
  const ids = [Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : 49407))];
  const reference = await (await TextEncoder.load(config, te.weights, { cacheDir: path.join(first, "cache") })).encode(ids);
  const moved = path.join(first, "moved");
  fs.renameSync(path.join(first, "cache"), moved);
  assert.deepEqual(
    await (await TextEncoder.load(config, te.weights, { cacheDir: moved })).encode(ids),
    reference,
    "the moved cache's copy is used",
  );

  const userFile = path.join(tempDir("hostile-user"), "notes.txt");
  fs.writeFileSync(userFile, "mine");
  const record = fs
    .readdirSync(path.join(moved, "weights"))
    .filter((n) => n.endsWith(".json"))
    .map((n) => path.join(moved, "weights", n))[0];
  editJson(record, (j) => {
    j.path = userFile;
    j.source = path.join(first, "gone.safetensors");
  });
  assert.ok(pruneCache(moved) > 0, "the copy whose source is gone is freed");
  assert.equal(fs.readFileSync(userFile, "utf8"), "mine", "the file the record names is untouched");
  assert.ok(!fs.existsSync(record), "its record is gone with it");
});

test("a corrupt cached graph or an altered weight copy is rebuilt, not used", async () => {
  const dir = tempDir("hostile-graph");
  const folder = openModelFolder(MODEL);
  const te = folder.textEncoder;
  const config = textEncoderConfig(te.config);
  const ids = [Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : 49407))];
  const reference = await (await TextEncoder.load(config, te.weights, { cacheDir: dir })).encode(ids);
  const source = new CheckpointWeights("text_encoder", te.weights);
  const modelPath = writeGraph(buildTextEncoderGraph(config, source), source.linkedFiles(), dir);
  fs.writeFileSync(modelPath, Buffer.from("not an onnx model"));
  assert.deepEqual(
    await (await TextEncoder.load(config, te.weights, { cacheDir: dir })).encode(ids),
    reference,
    "a corrupt model file is rebuilt",
  );
  const copy = fs.readdirSync(path.join(dir, "weights")).find((n) => n.endsWith(".safetensors"))!;
  const file = path.join(dir, "weights", copy);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 1] ^= 0xff;
  fs.writeFileSync(file, bytes);
  assert.deepEqual(
    await (await TextEncoder.load(config, te.weights, { cacheDir: dir })).encode(ids),
    reference,
    "an altered copy is copied again",
  );
});

test("the model identity in inversion keys follows the tokenizer files and the weights' content", async () => {
  const dir = tempDir("hostile-identity");
  const a = modelCopy("identity-a", () => undefined);
  const base = modelIdentity(openModelFolder(a), dir);
  const vocab = path.join(a, "tokenizer/vocab.json");
  editJson(vocab, (j) => (j["jeep</w>"] = 5));
  assert.notEqual(modelIdentity(openModelFolder(a), dir), base, "a changed vocabulary");
  const b = modelCopy("identity-b", () => undefined);
  const time = new Date(2020, 0, 1);
  fs.utimesSync(path.join(b, "unet/diffusion_pytorch_model.safetensors"), time, time);
  assert.equal(
    modelIdentity(openModelFolder(b), dir),
    modelIdentity(openModelFolder(modelCopy("identity-c", () => undefined)), dir),
    "the same content elsewhere, other times",
  );
  assert.equal((await loadModel(b, { cacheDir: dir })).identity, modelIdentity(openModelFolder(b), dir));
});

test("a hidden temporary output of a killed write is removed by the next write into the folder", async () => {
  const dir = tempDir("hostile-tmp");
  const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  const leftover = path.join(dir, `.edit.mp4.${dead}.0a1b2c3d.tmp.mp4`);
  fs.writeFileSync(leftover, Buffer.alloc(1000));
  await writeMp4(path.join(dir, "edit.mp4"), makeSampleClip(2, 32));
  assert.deepEqual(fs.readdirSync(dir), ["edit.mp4"]);
});

test("`npx fatezero` prints no npm warning", () => {
  const r = spawnSync("npx", ["--no-install", "fatezero", "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /npm warn/i);
  assert.ok(!fs.existsSync(".npmrc"), "no project .npmrc with keys npm does not know");
});
