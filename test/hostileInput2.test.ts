// Hostile and careless input, second round (issue 33's rows that lose no data): each case is refused before any
// compute with one line naming the flag, variable or file and what to do (exit 2, no stack trace). Real
// ffmpeg makes the odd videos, real FIFOs stand in for weights.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { planFromFlags } from "../cli/editCommand";
import { preflight } from "../src/pipeline/preflight";
import { ffmpegPath } from "../src/video/ffmpeg";
import { assertRefused, runCli, type CliResult } from "./support/cliRun";
import { FIXTURE, fixtureModelCopy, tempDir } from "./sharedData";

const cache = tempDir("hostile2-cache");
const MODEL = path.join(FIXTURE, "model");
/** The environment without the FATEZERO_* variables of whoever runs the tests. */
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FATEZERO_")));

function fatezero(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli(args, { ...CLEAN_ENV, FATEZERO_CACHE: cache, ...env });
}

const refused = assertRefused;

/** Run the project's ffmpeg (the npm package's binary). */
function ffmpeg(args: string[]): void {
  const r = spawnSync(ffmpegPath(), ["-v", "error", "-y", ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

const modelCopy = fixtureModelCopy;

function mkfifo(p: string): void {
  const r = spawnSync("mkfifo", [p], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

const dryRun = (model: string) => ["edit", "--model", model, "--target", "a car", "--size", "128", "--dry-run"];

test("N6: world refuses a clip beyond one array or the machine before rendering, and prints its memory estimate", () => {
  const dir = tempDir("n6");
  const out = path.join(dir, "clip");
  refused(
    fatezero(["world", "--seed", "1", "--frames", "1000", "--size", "2048", "--out", out]),
    /--frames 1000 --size 2048: the renderer's label votes need one array of [\d.]+ GB, past the [\d.]+ GB one may hold: use fewer frames or a smaller --size/,
    "1000 frames at 2048²",
  );
  refused(fatezero(["world", "--seed", "1", "--frames", "10001", "--out", out]), /--frames: expected an integer in 1…10000/, "MAX_FRAMES");
  refused(fatezero(["world", "--seed", "1", "--size", "8193", "--out", out]), /--size: expected an integer in 16…8192/, "MAX_SIZE");
  assert.ok(!fs.existsSync(out), "nothing is written");
  const ok = fatezero(["world", "--seed", "1", "--frames", "2", "--size", "32", "--out", out]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.err, /memory: about [\d.]+ GB at the peak \(this machine: [\d.]+ GB\)/);
});

test("N7: the memory estimate of a long clip (--frames -1) is within 1.5× of its measured peak", async () => {
  // Peak RSS of `fatezero edit` (world model, every frame of a 64² test-pattern mp4, --out …mp4): 450 frames at
  // 20 steps measured with /usr/bin/time on the CLI; 1800 frames at 5 steps with npm run bench edit-long-clip-64.
  const short = { source: "a red car", target: "a blue car" };
  const long = {
    source: "a red car driving down a curvy road in the countryside",
    target: "a blue car driving down a curvy road in the snow",
  };
  const measured: [number, number, typeof short, number][] = [
    [450, 20, short, 432_160 * 1024],
    [1800, 5, long, 716_349_440],
  ];
  const dir = tempDir("n7");
  for (const [frames, steps, prompts, peak] of measured) {
    const video = path.join(dir, `testsrc-${frames}.mp4`);
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x64:rate=30", "-frames:v", String(frames), "-pix_fmt", "yuv420p", video]);
    const flags = { video, ...prompts, frames: "-1", size: "64", steps: String(steps), out: path.join(dir, "out.mp4") };
    const { plan, model } = planFromFlags(flags);
    assert.equal(plan.frames.length, frames);
    const { peakBytesEstimate } = await preflight(plan, model, { cacheDir: cache });
    const ratio = peakBytesEstimate / peak;
    assert.ok(
      ratio >= 1 / 1.5 && ratio <= 1.5,
      `${frames} frames, ${steps} steps: estimate ${peakBytesEstimate} / measured ${peak} = ${ratio}`,
    );
  }
});

test("N8: figures refuses FATEZERO_STEPS, FATEZERO_SIZE and FATEZERO_FRAMES beyond the CLI's limits", () => {
  const out = path.join(tempDir("n8"), "figures");
  for (const [name, value, max] of [
    ["FATEZERO_STEPS", "1001", 1000],
    ["FATEZERO_SIZE", "99999999", 8192],
    ["FATEZERO_FRAMES", "10001", 10000],
  ] as const) {
    refused(
      fatezero(["figures", "--out", out], { [name]: value }),
      new RegExp(`${name}: expected an integer in 1…${max}, got "${value}"`),
      name,
    );
  }
  assert.ok(!fs.existsSync(out), "nothing is written");
});

test("N9: figures refuses an --out whose executed copy would replace the input notebook", () => {
  const dir = tempDir("n9");
  const notebook = path.join(dir, "executed", "t.ipynb");
  fs.mkdirSync(path.dirname(notebook));
  fs.copyFileSync(path.resolve("notebooks/quickstart.ipynb"), notebook);
  const before = fs.readFileSync(notebook);
  refused(
    fatezero(["figures", "--notebooks", notebook, "--out", dir]),
    /--out .*: the executed copy .*executed\/t\.ipynb would replace the input notebook .*executed\/t\.ipynb; give another --out/,
    "--out above the notebook's executed/",
  );
  assert.deepEqual(fs.readFileSync(notebook), before);
});

test("N10: figures refuses a non-JSON or empty notebook, --timeout Infinity and an --out file with exit 2 naming them", () => {
  const dir = tempDir("n10");
  const text = path.join(dir, "text.ipynb");
  fs.writeFileSync(text, "this is not JSON");
  const empty = path.join(dir, "empty.ipynb");
  fs.writeFileSync(empty, "");
  const file = path.join(dir, "figures.png");
  fs.writeFileSync(file, "mine");
  refused(
    fatezero(["figures", "--notebooks", text, "--out", dir]),
    /--notebooks: .*text\.ipynb is not a notebook \(JSON with a cells list\)/,
    "text",
  );
  refused(fatezero(["figures", "--notebooks", empty, "--out", dir]), /--notebooks: .*empty\.ipynb is not a notebook/, "empty");
  refused(
    fatezero(["figures", "--timeout", "Infinity", "--out", dir]),
    /--timeout: expected whole seconds in 1…604800, got "Infinity"/,
    "Infinity",
  );
  refused(fatezero(["figures", "--out", file]), /--out: .*figures\.png is not a folder/, "--out file");
  assert.equal(fs.readFileSync(file, "utf8"), "mine");
});

test("N14: the preflight opens the video, in a dry run and before the model loads in a real run", () => {
  const dir = tempDir("n14");
  const audio = path.join(dir, "audio.mp4");
  ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", audio]);
  const gif = path.join(dir, "one.gif");
  ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x64:rate=1", "-frames:v", "1", gif]);
  const sizes = path.join(dir, "sizes");
  fs.mkdirSync(sizes);
  ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x64", "-frames:v", "1", path.join(sizes, "00000.png")]);
  ffmpeg(["-f", "lavfi", "-i", "testsrc=size=128x64", "-frames:v", "1", path.join(sizes, "00001.png")]);
  const fake = path.join(dir, "fake");
  fs.mkdirSync(fake);
  fs.copyFileSync(path.join(sizes, "00000.png"), path.join(fake, "00000.png"));
  fs.writeFileSync(path.join(fake, "00001.png"), "not an image");
  const cases: [string, RegExp][] = [
    [audio, /audio\.mp4 has no video stream \(only audio\)/],
    [gif, /one\.gif has 1 frames, but 2 frames were requested \(from frame 0, every 1\), which needs 2 frames/],
    [sizes, /sizes: frame .*00001\.png is 128×64 but .*00000\.png is 64×64/],
    [fake, /cannot read frame .*fake\/00001\.png: /],
  ];
  const edit = ["edit", "--model", "tiny", "--source", "a car", "--target", "a red car", "--frames", "2", "--size", "64"];
  for (const [video, message] of cases) {
    refused(fatezero([...edit, "--video", video, "--dry-run"]), message, `dry run: ${video}`);
    const real = fatezero([...edit, "--video", video, "--out", path.join(dir, "out.mp4")]);
    refused(real, message, `real run: ${video}`);
    assert.doesNotMatch(real.err, /^load /m, `real run: ${video}: the model load began`);
  }
});

test("N15: FATEZERO_DEVICE=garbage exits 2 naming the variable; FATEZERO_DEVICE=webgpu is honoured like --device webgpu", () => {
  const args = ["edit", "--model", "tiny", "--target", "a car", "--dry-run"];
  refused(
    fatezero(args, { FATEZERO_DEVICE: "garbage" }),
    /FATEZERO_DEVICE: unknown device "garbage"; one of: cpu, webgpu, cuda/,
    "garbage",
  );
  const flag = fatezero([...args, "--device", "webgpu"]);
  const env = fatezero(args, { FATEZERO_DEVICE: "webgpu" });
  if (flag.code === 2) {
    refused(env, /FATEZERO_DEVICE=webgpu: ONNX Runtime cannot run on it/, "webgpu where the flag is refused");
  } else {
    assert.equal(flag.code, 0, flag.err);
    assert.equal(env.code, 0, env.err);
  }
  const cpu = fatezero([...args, "--device", "cpu"], { FATEZERO_DEVICE: "garbage" });
  assert.equal(cpu.code, 0, `--device overrides the variable: ${cpu.err}`);
});

test("N18: pickles, renamed checkpoints, odd files and broken headers are named for what they are, with the fix", () => {
  const dir = tempDir("n18");
  const zip = Buffer.concat([Buffer.from("PK\x03\x04\x14\x00\x00\x00", "latin1"), Buffer.alloc(100)]);
  const ckpt = path.join(dir, "x.ckpt");
  fs.writeFileSync(ckpt, zip);
  refused(
    fatezero(dryRun(ckpt)),
    /model .*x\.ckpt is a PyTorch pickle checkpoint\. .*arbitrary code.*save_file\(.*x\.safetensors'\)", then give .*x\.safetensors/,
    ".ckpt",
  );
  const renamed = path.join(dir, "renamed.safetensors");
  fs.writeFileSync(renamed, zip);
  refused(
    fatezero(dryRun(renamed)),
    /renamed\.safetensors: not a valid safetensors file: it is a ZIP archive, the format torch\.save writes.*save_file/,
    "renamed",
  );
  const upper = path.join(dir, "x.SAFETENSORS");
  fs.writeFileSync(upper, zip);
  refused(fatezero(dryRun(upper)), /x\.SAFETENSORS: not a valid safetensors file: it is a ZIP archive/, "x.SAFETENSORS is a single file");
  const fifo = path.join(dir, "pipe.safetensors");
  mkfifo(fifo);
  refused(
    fatezero(dryRun(fifo)),
    /model .*pipe\.safetensors is a FIFO \(named pipe\): give a diffusers model folder or a single-file \.safetensors/,
    "FIFO",
  );
  refused(fatezero(dryRun("/dev/zero")), /model \/dev\/zero is a character device: give a diffusers model folder/, "/dev/zero");
  const header = Buffer.concat([Buffer.from('{"conv\xff.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "latin1")]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  const latin = path.join(dir, "latin1.safetensors");
  fs.writeFileSync(latin, Buffer.concat([length, header, Buffer.alloc(4)]));
  refused(
    fatezero(dryRun(latin)),
    /latin1\.safetensors: not a valid safetensors file: header is not UTF-8 text: byte 14 \(0xff\), after "\{\\"conv"/,
    "latin1 name",
  );
  const config = fatezero(["figures", "--out", path.join(dir, "figures")], { FATEZERO_MODEL_CONFIG: "/nonexist" });
  refused(config, /FATEZERO_MODEL_CONFIG=\/nonexist: no such folder/, "FATEZERO_MODEL_CONFIG");
  assert.doesNotMatch(config.err, /FATEZERO_MODEL=world/);
  const folder = fatezero(["figures", "--out", path.join(dir, "figures")], { FATEZERO_MODEL_CONFIG: MODEL });
  refused(
    folder,
    /FATEZERO_MODEL_CONFIG=.*: gives the configs of a single-file FATEZERO_MODEL \(\.safetensors\); FATEZERO_MODEL=world is not one/,
    "config for world",
  );
});

test("D17: a scheduler's num_train_timesteps of 1e12 is refused with the key named", () => {
  const model = modelCopy("d17", (d) => {
    const file = path.join(d, "scheduler/scheduler_config.json");
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), num_train_timesteps: 1e12 }));
  });
  refused(
    fatezero(dryRun(model)),
    /scheduler config .*scheduler_config\.json: "num_train_timesteps" must be an integer in 1…100000, got 1000000000000/,
    "1e12",
  );
});

test("D21: a FIFO as the weights file is said to be a FIFO, not missing", () => {
  const model = modelCopy("d21", (d) => {
    const weights = path.join(d, "unet/diffusion_pytorch_model.safetensors");
    fs.rmSync(weights);
    mkfifo(weights);
  });
  refused(
    fatezero(dryRun(model)),
    /unet\/diffusion_pytorch_model\.safetensors \(the unet weights\) is a FIFO \(named pipe\), not a regular file/,
    "FIFO weights",
  );
});
