// Model folder and weight set: the real fixture opens with its configs and weights, and each way a folder
// can be wrong (missing, incomplete, pickles only, sharded, fp16, corrupt config) is handled or reported
// with the exact file at fault.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openModelFolder } from "../src/networks/modelFolder";
import { WeightSet } from "../src/checkpoint/weightSet";
import { SafetensorsFile, writeSafetensors } from "../src/checkpoint/safetensors";
import { floatToHalf } from "./support/halfFloat";

const FIXTURE = path.resolve(process.cwd(), "../shared/reference/public/model");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-modelfolder-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;

/** A writable copy of the fixture (the original is read-only, and so are the modes of its files). */
function copyFixture(): string {
  const dest = path.join(tmp, `model${counter++}`);
  const copy = (from: string, to: string): void => {
    if (fs.statSync(from).isDirectory()) {
      fs.mkdirSync(to);
      for (const f of fs.readdirSync(from)) copy(path.join(from, f), path.join(to, f));
    } else {
      fs.copyFileSync(from, to);
      fs.chmodSync(to, 0o644);
    }
  };
  copy(FIXTURE, dest);
  return dest;
}

test("opens the fixture with configs, tokenizer, scheduler and weights", () => {
  const m = openModelFolder(FIXTURE);
  assert.equal(m.root, FIXTURE);
  assert.equal(m.modelIndex._class_name, "StableDiffusionPipeline");
  assert.equal(m.textEncoder.name, "text_encoder");
  assert.equal(m.textEncoder.dir, path.join(FIXTURE, "text_encoder"));
  assert.equal(m.textEncoder.config.hidden_size, 32);
  assert.equal(m.unet.config._class_name, "UNet2DConditionModel");
  assert.deepEqual(m.unet.config.block_out_channels, [16, 32, 32, 32]);
  assert.equal(m.vae.config.latent_channels, 4);
  assert.equal(m.vocab.vocab["<|endoftext|>"], 49407);
  assert.equal(m.schedulerConfigPath, path.join(FIXTURE, "scheduler", "scheduler_config.json"));
  assert.equal(m.schedulerConfig.beta_schedule, "scaled_linear");

  assert.equal(m.textEncoder.weights.names().length, 37);
  assert.equal(m.unet.weights.names().length, 684);
  assert.equal(m.vae.weights.names().length, 180);
  assert.deepEqual(m.unet.weights.shape("conv_in.weight"), [16, 4, 3, 3]);
  const w = m.unet.weights.readFloat32("conv_in.weight");
  assert.equal(w.length, 16 * 4 * 3 * 3);
  assert.ok(w.some((v) => v !== 0));
  assert.ok(m.textEncoder.weights.has("text_model.embeddings.position_ids"));
  const loc = m.vae.weights.locate("decoder.mid_block.attentions.0.query.weight");
  assert.equal(loc.entry.dtype, "F32");
  assert.equal(loc.file.path, path.join(FIXTURE, "vae", "diffusion_pytorch_model.safetensors"));
});

test("missing tensors name the folder and suggest near misses", () => {
  const m = openModelFolder(FIXTURE);
  assert.throws(
    () => m.vae.weights.locate("decoder.mid_block.attentions.0.to_q.weight"),
    (e: Error) =>
      e.message.includes(path.join(FIXTURE, "vae")) &&
      e.message.includes('"decoder.mid_block.attentions.0.to_q.weight"') &&
      e.message.includes('"decoder.mid_block.attentions.0.query.weight"'),
  );
  assert.throws(
    () => m.unet.weights.locate("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias"),
    /does have "down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q\.weight"/,
  );
  assert.throws(() => m.textEncoder.weights.locate("embeddings.position_ids"), /does have "text_model\.embeddings\.position_ids"/);
  assert.throws(
    () => m.unet.weights.shape("no.such.tensor"),
    (e: Error) => e.message.includes(path.join(FIXTURE, "unet")) && !e.message.includes("it does have"),
  );
});

test("unetSubfolder selects another UNet folder", () => {
  const root = copyFixture();
  fs.renameSync(path.join(root, "unet"), path.join(root, "unet_tuned"));
  assert.throws(() => openModelFolder(root), new RegExp(`missing ${path.join(root, "unet", "config.json")}`));
  const m = openModelFolder(root, { unetSubfolder: "unet_tuned" });
  assert.equal(m.unet.dir, path.join(root, "unet_tuned"));
  assert.equal(m.unet.weights.names().length, 684);
});

test("a folder that does not exist or is a file", () => {
  const missing = path.join(tmp, "does-not-exist");
  assert.throws(() => openModelFolder(missing), new RegExp(`${missing} does not exist`));
  const file = path.join(FIXTURE, "model_index.json");
  assert.throws(() => openModelFolder(file), new RegExp(`${file} is a regular file, not a folder`));
});

test("missing model_index.json", () => {
  const root = copyFixture();
  fs.rmSync(path.join(root, "model_index.json"));
  assert.throws(() => openModelFolder(root), new RegExp(`missing ${path.join(root, "model_index.json")}`));
});

test("missing tokenizer, scheduler and config files", () => {
  const root = copyFixture();
  for (const rel of ["tokenizer/merges.txt", "scheduler/scheduler_config.json", "vae/config.json"]) {
    const p = path.join(root, rel);
    const saved = fs.readFileSync(p);
    fs.rmSync(p);
    assert.throws(() => openModelFolder(root), new RegExp(`missing ${p}`));
    fs.writeFileSync(p, saved);
  }
  openModelFolder(root);
});

test("missing unet weights", () => {
  const root = copyFixture();
  const weights = path.join(root, "unet", "diffusion_pytorch_model.safetensors");
  fs.rmSync(weights);
  assert.throws(() => openModelFolder(root), new RegExp(`missing ${weights}.*config\\.json`));
});

test(".bin-only component is refused with conversion advice", () => {
  const root = copyFixture();
  fs.rmSync(path.join(root, "unet", "diffusion_pytorch_model.safetensors"));
  fs.writeFileSync(path.join(root, "unet", "diffusion_pytorch_model.bin"), "not really a pickle");
  assert.throws(
    () => openModelFolder(root),
    (e: Error) =>
      e.message.includes(path.join(root, "unet")) &&
      /diffusion_pytorch_model\.bin/.test(e.message) &&
      /pickle/.test(e.message) &&
      /arbitrary code/.test(e.message) &&
      /save_file\(.*diffusion_pytorch_model\.safetensors/.test(e.message),
  );
});

test("sharded weights via a safetensors index", () => {
  const root = copyFixture();
  const vae = path.join(root, "vae");
  const single = path.join(vae, "diffusion_pytorch_model.safetensors");
  const original = SafetensorsFile.open(path.join(FIXTURE, "vae", "diffusion_pytorch_model.safetensors"));
  const names = [...original.entries.keys()];
  const half = Math.ceil(names.length / 2);
  const shards = ["diffusion_pytorch_model-00001-of-00002.safetensors", "diffusion_pytorch_model-00002-of-00002.safetensors"];
  const weightMap: Record<string, string> = {};
  [names.slice(0, half), names.slice(half)].forEach((part, i) => {
    writeSafetensors(
      path.join(vae, shards[i]),
      part.map((n) => {
        const e = original.entry(n);
        weightMap[n] = shards[i];
        return { name: n, dtype: e.dtype, shape: e.shape, data: () => original.readBytes(n) };
      }),
      { format: "pt" },
    );
  });
  const indexPath = path.join(vae, "diffusion_pytorch_model.safetensors.index.json");
  const writeIndex = (map: Record<string, unknown>): void =>
    fs.writeFileSync(indexPath, JSON.stringify({ metadata: { total_size: 0 }, weight_map: map }));
  writeIndex(weightMap);
  fs.rmSync(single);

  const m = openModelFolder(root);
  assert.deepEqual(m.vae.weights.names(), [...names].sort());
  assert.equal(m.vae.weights.files.length, 2);
  const last = names[names.length - 1];
  assert.equal(m.vae.weights.locate(last).file.path, path.join(vae, shards[1]));
  assert.deepEqual(m.vae.weights.readFloat32(last), original.readFloat32(last));
  assert.deepEqual(m.vae.weights.readFloat32(names[0]), original.readFloat32(names[0]));

  writeIndex({ ...weightMap, [names[0]]: shards[1] });
  assert.throws(() => openModelFolder(root), new RegExp(`tensor "${names[0]}" is mapped to ${shards[1]} but stored in ${shards[0]}`));
  writeIndex({ ...weightMap, "extra.weight": shards[0] });
  assert.throws(() => openModelFolder(root), /tensor "extra\.weight" is not in any shard/);
  writeIndex({ ...weightMap, [names[0]]: "../../model_index.json" });
  assert.throws(() => openModelFolder(root), /invalid shard file name/);
  writeIndex({ ...weightMap, [names[0]]: "missing-shard.safetensors" });
  assert.throws(() => openModelFolder(root), new RegExp(`missing ${path.join(vae, "missing-shard.safetensors")}`));
  fs.writeFileSync(indexPath, JSON.stringify({ metadata: {} }));
  assert.throws(() => openModelFolder(root), /"weight_map" is missing/);
});

test("a tensor stored in two shards is rejected", () => {
  const a = path.join(tmp, `dup-a-${counter}.safetensors`);
  const b = path.join(tmp, `dup-b-${counter++}.safetensors`);
  for (const p of [a, b]) writeSafetensors(p, [{ name: "x.weight", dtype: "U8", shape: [1], data: () => new Uint8Array(1) }]);
  assert.throws(() => WeightSet.open([a, b]), new RegExp(`"x\\.weight" appears in both ${a} and ${b}`));
  assert.throws(() => WeightSet.open([]), /no safetensors files/);
});

test("fp16 variant loads", () => {
  const root = copyFixture();
  const vae = path.join(root, "vae");
  const single = path.join(vae, "diffusion_pytorch_model.safetensors");
  const original = SafetensorsFile.open(path.join(FIXTURE, "vae", "diffusion_pytorch_model.safetensors"));
  writeSafetensors(
    path.join(vae, "diffusion_pytorch_model.fp16.safetensors"),
    [...original.entries.values()].map((e) => ({
      name: e.name,
      dtype: "F16" as const,
      shape: e.shape,
      data: () => {
        const f = original.readFloat32(e.name);
        const out = Buffer.alloc(f.length * 2);
        f.forEach((v, i) => out.writeUInt16LE(floatToHalf(v), i * 2));
        return out;
      },
    })),
  );
  fs.rmSync(single);
  const m = openModelFolder(root);
  const name = "decoder.conv_in.weight";
  assert.equal(m.vae.weights.locate(name).entry.dtype, "F16");
  const want = original.readFloat32(name);
  const got = m.vae.weights.readFloat32(name);
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= Math.abs(want[i]) * 2 ** -10 + 2 ** -24);
});

test("corrupt config JSON names the file", () => {
  const root = copyFixture();
  const config = path.join(root, "unet", "config.json");
  fs.writeFileSync(config, '{"in_channels": 4,');
  assert.throws(() => openModelFolder(root), new RegExp(`${config}: invalid JSON`));
  fs.writeFileSync(config, "[4]");
  assert.throws(() => openModelFolder(root), new RegExp(`${config}: expected a JSON object`));
  fs.writeFileSync(path.join(root, "model_index.json"), "");
  assert.throws(() => openModelFolder(root), new RegExp(`${path.join(root, "model_index.json")}: invalid JSON`));
});

test("a corrupt weight file surfaces the safetensors error", () => {
  const root = copyFixture();
  const weights = path.join(root, "text_encoder", "model.safetensors");
  fs.truncateSync(weights, 1000);
  assert.throws(() => openModelFolder(root), new RegExp(`${weights}: not a valid safetensors file`));
});
