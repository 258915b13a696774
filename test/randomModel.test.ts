// Random-weight model folders: generated with the fixture's configs they carry exactly the fixture's tensor
// names, shapes and dtypes (so the recorded parameter list is complete); the tiny default loads and runs in
// every session; generation is bit-reproducible; the VAE latent scale matches SD's; occupied targets are kept.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import sharp from "sharp";
import { textEncoderConfig, unetConfig, vaeConfig } from "../src/networks/configs";
import { openModelFolder } from "../src/networks/modelFolder";
import { sd15ModelSpec, tinyModelSpec } from "../src/networks/modelSpecs";
import { parameterCount, parameterValues, recordParameters, writeRandomModel, type RandomModelSpec } from "../src/networks/randomModel";
import { SafetensorsFile } from "../src/checkpoint/safetensors";
import { TextEncoder } from "../src/networks/textEncoder";
import { Unet } from "../src/networks/unetSession";
import { Vae } from "../src/networks/vae";
import { ClipTokenizer } from "../src/tokenizer/clipTokenizer";

const FIXTURE = path.resolve(process.cwd(), "../shared/reference/public/model");
const FRAME = path.resolve(process.cwd(), "../shared/data/car-turn/00000.png");
const COMPONENT_FILES = [
  "text_encoder/model.safetensors",
  "unet/diffusion_pytorch_model.safetensors",
  "vae/diffusion_pytorch_model.safetensors",
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-randommodel-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
const cacheDir = path.join(tmp, "cache");

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;

/** The tiny default, generated once and shared by the tests that only read it. */
let tinyDir: string | undefined;
function tinyModel(): string {
  if (!tinyDir) {
    tinyDir = path.join(tmp, "tiny");
    writeRandomModel(tinyDir, tinyModelSpec());
  }
  return tinyDir;
}

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string, prefix = ""): string[] {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)]))
    .sort();
}

function finite(values: Float32Array): boolean {
  return values.every((v) => Number.isFinite(v));
}

function std(values: Float32Array): number {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return Math.sqrt(sq / values.length);
}

test("with the fixture's configs, tensor names, shapes and dtypes equal the fixture's exactly", () => {
  const fixtureSpec: RandomModelSpec = {
    textEncoder: readJson(path.join(FIXTURE, "text_encoder/config.json")),
    unet: readJson(path.join(FIXTURE, "unet/config.json")),
    vae: readJson(path.join(FIXTURE, "vae/config.json")),
    vocab: {
      vocab: readJson(path.join(FIXTURE, "tokenizer/vocab.json")) as Record<string, number>,
      merges: fs.readFileSync(path.join(FIXTURE, "tokenizer/merges.txt"), "utf8"),
    },
  };
  const dir = path.join(tmp, "fixture-configs");
  writeRandomModel(dir, fixtureSpec);
  for (const file of COMPONENT_FILES) {
    const layout = (p: string) =>
      [...SafetensorsFile.open(p).entries.values()]
        .map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape }))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
    assert.deepEqual(layout(path.join(dir, file)), layout(path.join(FIXTURE, file)), file);
  }
  for (const file of [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
  ]) {
    const want = Object.keys(readJson(path.join(FIXTURE, file))).sort();
    const have = Object.keys(readJson(path.join(dir, file)))
      .filter((k) => k !== "_fatezero")
      .sort();
    assert.deepEqual(have, want, file);
  }
  assert.deepEqual(
    readJson(path.join(dir, "scheduler/scheduler_config.json")),
    readJson(path.join(FIXTURE, "scheduler/scheduler_config.json")),
  );
  const ids = SafetensorsFile.open(path.join(dir, COMPONENT_FILES[0])).readInt64("text_model.embeddings.position_ids");
  assert.deepEqual(
    [...ids],
    Array.from({ length: 77 }, (_, i) => BigInt(i)),
  );
});

test("the tiny model has the fixture's config key sets and records its vocabulary", () => {
  const dir = tinyModel();
  for (const file of ["text_encoder/config.json", "unet/config.json", "vae/config.json"]) {
    assert.deepEqual(Object.keys(readJson(path.join(dir, file))).sort(), Object.keys(readJson(path.join(FIXTURE, file))).sort(), file);
  }
  const meta = readJson(path.join(dir, "model_index.json"))._fatezero as Record<string, unknown>;
  assert.equal(meta.model, "tiny");
  assert.equal(meta.seed, 0);
  assert.match(String(meta.vocabulary), /^clip-(full|small)/);
});

test("the tiny model opens and its text encoder, VAE and 2D / video UNets run", async () => {
  const m = openModelFolder(tinyModel());
  const tokenizer = ClipTokenizer.fromFiles(m.vocab);
  const te = await TextEncoder.load(textEncoderConfig(m.textEncoder.config), m.textEncoder.weights, { cacheDir });
  const ids = ["a silver jeep driving down a curvy road", ""].map((p) => tokenizer.tokenize(p).ids);
  const context = await te.encode(ids); // [2, 77, 32]
  assert.equal(context.length, 2 * 77 * 32);
  assert.ok(finite(context));
  // Different prompts must give different embeddings, or cross-attention could not tell them apart.
  assert.ok(context.slice(77 * 32 + 32 * 2, 77 * 32 + 32 * 3).some((v, i) => v !== context[32 * 2 + i]));

  const vae = await Vae.load(vaeConfig(m.vae.config), m.vae.weights, { cacheDir });
  const image = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i * 0.37)); // [1, 3, 64, 64]
  const posterior = await vae.encode(image, [1, 3, 64, 64]);
  assert.deepEqual(posterior.dims, [1, 4, 8, 8]);
  assert.ok(finite(posterior.mean) && finite(posterior.std));
  const decoded = await vae.decode(posterior.mean, [1, 4, 8, 8]); // [1, 3, 64, 64]
  assert.equal(decoded.length, 3 * 64 * 64);
  assert.ok(finite(decoded));

  const uc = unetConfig(m.unet.config);
  const unet = await Unet.load(uc, m.unet.weights, { cacheDir });
  const sample = Float32Array.from({ length: 2 * 4 * 8 * 8 }, (_, i) => Math.cos(i * 0.11)); // [2, 4, 8, 8]
  const noise = await unet.predict(sample, [2, 4, 8, 8], 401, context);
  assert.equal(noise.length, sample.length);
  assert.ok(finite(noise));

  const video = await Unet.load(uc, m.unet.weights, { cacheDir, video: { selectors: [-1, "first"], leastScChannel: 32 } });
  const clip = Float32Array.from({ length: 4 * 3 * 8 * 8 }, (_, i) => Math.cos(i * 0.07)); // [1, 4, 3, 8, 8]
  const videoNoise = await video.predict(clip, [1, 4, 3, 8, 8], 401, context.slice(0, 77 * 32));
  assert.equal(videoNoise.length, clip.length);
  assert.ok(finite(videoNoise));
});

test("generation is bit-reproducible, seed-dependent and independent of tensor order", () => {
  const spec = tinyModelSpec();
  const again = path.join(tmp, "tiny-again");
  let calls = 0;
  let last = [0, 0];
  writeRandomModel(again, spec, {
    onProgress: (done, total) => {
      calls++;
      assert.ok(done > last[0] && done <= total);
      last = [done, total];
    },
  });
  assert.equal(last[0], last[1]);
  assert.equal(calls, 36 + 1 + 684 + 180);
  const files = listFiles(tinyModel());
  assert.deepEqual(listFiles(again), files);
  for (const f of files) assert.ok(fs.readFileSync(path.join(again, f)).equals(fs.readFileSync(path.join(tinyModel(), f))), f);

  const other = path.join(tmp, "tiny-seed1");
  writeRandomModel(other, spec, { seed: 1 });
  const unetFile = COMPONENT_FILES[1];
  assert.ok(!fs.readFileSync(path.join(other, unetFile)).equals(fs.readFileSync(path.join(tinyModel(), unetFile))));

  // A tensor's values depend on its own name only: computing it alone gives the stored bytes.
  const params = recordParameters(spec).unet;
  const name = "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight";
  const alone = parameterValues(0, "unet", name, params.get(name)!, params);
  assert.deepEqual(SafetensorsFile.open(path.join(tinyModel(), unetFile)).readFloat32(name), alone);
});

test("0.18215 × the VAE posterior mean of a car-turn frame has a std near 1", async (t) => {
  const m = openModelFolder(tinyModel());
  const vae = await Vae.load(vaeConfig(m.vae.config), m.vae.weights, { cacheDir });
  const size = 128;
  const rgb = await sharp(FRAME).resize(size, size, { kernel: "cubic" }).removeAlpha().raw().toBuffer(); // [H, W, 3] u8
  const image = new Float32Array(3 * size * size); // [1, 3, H, W] in [-1, 1]
  for (let c = 0; c < 3; c++) for (let p = 0; p < size * size; p++) image[c * size * size + p] = (rgb[p * 3 + c] / 255) * 2 - 1;
  const posterior = await vae.encode(image, [1, 3, size, size]);
  const scaled = posterior.mean.map((v) => v * 0.18215);
  const latentStd = std(scaled);
  const meanStd = posterior.std.reduce((a, b) => a + b, 0) / posterior.std.length;
  t.diagnostic(`0.18215·mean std = ${latentStd.toFixed(4)}, posterior std (raw) mean = ${meanStd.toFixed(4)}`);
  assert.ok(latentStd > 0.3 && latentStd < 3, `latent std ${latentStd}`);
  // The posterior noise stays small next to the mean, as in SD.
  assert.ok(meanStd < 0.3, `posterior std ${meanStd}`);
  assert.ok(finite(await vae.decode(posterior.mean, [1, 4, size / 8, size / 8])));
});

test("a non-empty target is refused unless overwrite is given and it is an earlier random model; an empty one is used", () => {
  const spec = tinyModelSpec();
  const occupied = path.join(tmp, "occupied");
  fs.mkdirSync(occupied);
  fs.writeFileSync(path.join(occupied, "keep.txt"), "mine");
  assert.throws(() => writeRandomModel(occupied, spec), /occupied: holds keep\.txt; overwrite \(--overwrite\) replaces it/);
  assert.deepEqual(fs.readdirSync(occupied), ["keep.txt"]);
  assert.deepEqual(
    fs.readdirSync(tmp).filter((f) => f.endsWith(".staging")),
    [],
  );

  assert.throws(() => writeRandomModel(occupied, spec, { overwrite: true }), /occupied: holds keep\.txt; it has no record of/);
  assert.deepEqual(fs.readdirSync(occupied), ["keep.txt"], "overwrite replaces only a model this writer made");

  const empty = path.join(tmp, "empty");
  fs.mkdirSync(empty);
  writeRandomModel(empty, spec);
  assert.ok(fs.existsSync(path.join(empty, "unet/config.json")));
  writeRandomModel(empty, spec, { overwrite: true, seed: 3 });
  assert.equal(JSON.parse(fs.readFileSync(path.join(empty, "model_index.json"), "utf8"))._fatezero.seed, 3, "an earlier model is replaced");
  assert.deepEqual(
    fs.readdirSync(tmp).filter((f) => f.endsWith(".staging")),
    [],
  );

  const file = path.join(tmp, "a-file");
  fs.writeFileSync(file, "");
  assert.throws(() => writeRandomModel(file, spec, { overwrite: true }), /exists and is not a folder/);
});

test("without the CLIP merge list the tiny spec falls back to a small vocabulary sized to fit", () => {
  const missing = path.join(tmp, "no-such-merges.txt.gz");
  const spec = tinyModelSpec({ clipMergesGz: missing });
  assert.equal(spec.provenance?.vocabulary, "clip-small (256 merges)");
  assert.equal(spec.textEncoder.vocab_size, 512 + 256 + 2);
  assert.deepEqual(recordParameters(spec).textEncoder.get("text_model.embeddings.token_embedding.weight"), [770, 32]);
  const saved = process.env.FATEZERO_CLIP_MERGES;
  process.env.FATEZERO_CLIP_MERGES = missing;
  try {
    assert.equal(tinyModelSpec().textEncoder.vocab_size, 770);
  } finally {
    if (saved === undefined) delete process.env.FATEZERO_CLIP_MERGES;
    else process.env.FATEZERO_CLIP_MERGES = saved;
  }
  const tooSmall = { ...spec, textEncoder: { ...spec.textEncoder, vocab_size: 700 } };
  assert.throws(() => writeRandomModel(path.join(tmp, "bad-vocab"), tooSmall), /outside the text encoder's vocab_size 700/);
  assert.ok(!fs.existsSync(path.join(tmp, "bad-vocab")));
});

test("the SD 1.5 spec parses and has SD 1.5's parameter counts", () => {
  const spec = sd15ModelSpec();
  const unet = unetConfig(spec.unet);
  assert.deepEqual(unet.blockOutChannels, [320, 640, 1280, 1280]);
  assert.deepEqual(unet.heads, [8, 8, 8, 8]);
  assert.equal(unet.crossAttentionDim, 768);
  assert.equal(vaeConfig(spec.vae).layersPerBlock, 2);
  const text = textEncoderConfig(spec.textEncoder);
  assert.equal(text.hiddenSize, 768);
  assert.equal(text.vocabSize, 49408);
  const params = recordParameters(spec);
  assert.equal(params.unet.size, 686);
  assert.equal(parameterCount(params.unet), 859_520_964);
  assert.equal(parameterCount(params.textEncoder), 123_060_480);
  assert.equal(parameterCount(params.vae), 83_653_863);
});
