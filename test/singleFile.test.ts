// Single-file checkpoints (original latent-diffusion layout): the name mapping, recognising SD 1.x's standard
// shapes and refusing other files, the public fixture's single file reproducing the fixture exactly as its
// folder does, and an edit from the single file equal byte for byte to the folder's.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { writeSafetensors } from "../src/checkpoint/safetensors";
import { decodeLatents } from "../src/fatezero/decodeLatents";
import { DEFAULT_P2P } from "../src/fatezero/editOptions";
import { editVideo } from "../src/fatezero/editVideo";
import { invertVideo } from "../src/fatezero/invertVideo";
import { loadModel, openModel } from "../src/fatezero/loadModel";
import { sd15ModelSpec } from "../src/networks/modelSpecs";
import { recordParameters } from "../src/networks/randomModel";
import { classifySingleFile, unetToLdm, vaeToLdm } from "../src/networks/singleFile";
import { runReference, type ReferenceLine } from "../src/reference/runReference";
import { makeSampleClip } from "../src/world/sampleClip";
import { FIXTURE, tempDir } from "./sharedData";

const SINGLE = path.join(FIXTURE, "single-file/model.safetensors");
const cacheDir = tempDir("single-cache");

test("diffusers names map to the original layout", () => {
  const up = (b: number) => b > 0; // SD 1.x: up block 0 has no attention
  assert.equal(unetToLdm("conv_in.weight", 2, up), "input_blocks.0.0.weight");
  assert.equal(unetToLdm("time_embedding.linear_2.bias", 2, up), "time_embed.2.bias");
  assert.equal(unetToLdm("down_blocks.1.resnets.1.conv_shortcut.weight", 2, up), "input_blocks.5.0.skip_connection.weight");
  assert.equal(unetToLdm("down_blocks.2.attentions.0.proj_in.weight", 2, up), "input_blocks.7.1.proj_in.weight");
  assert.equal(unetToLdm("down_blocks.0.downsamplers.0.conv.weight", 2, up), "input_blocks.3.0.op.weight");
  assert.equal(unetToLdm("mid_block.resnets.1.time_emb_proj.weight", 2, up), "middle_block.2.emb_layers.1.weight");
  assert.equal(unetToLdm("up_blocks.0.upsamplers.0.conv.bias", 2, up), "output_blocks.2.1.conv.bias");
  assert.equal(unetToLdm("up_blocks.1.upsamplers.0.conv.bias", 2, up), "output_blocks.5.2.conv.bias");
  assert.equal(unetToLdm("up_blocks.3.resnets.2.norm2.weight", 2, up), "output_blocks.11.0.out_layers.0.weight");
  assert.equal(unetToLdm("conv_norm_out.weight", 2, up), "out.0.weight");
  assert.deepEqual(vaeToLdm("decoder.up_blocks.0.resnets.0.conv1.weight", 4), {
    stored: "first_stage_model.decoder.up.3.block.0.conv1.weight",
  });
  assert.deepEqual(vaeToLdm("encoder.mid_block.attentions.0.query.weight", 4), { stored: "first_stage_model.encoder.mid.attn_1.q.weight" });
  assert.deepEqual(vaeToLdm("encoder.down_blocks.1.resnets.0.conv_shortcut.bias", 4), {
    stored: "first_stage_model.encoder.down.1.block.0.nin_shortcut.bias",
  });
  assert.deepEqual(vaeToLdm("post_quant_conv.weight", 4), { stored: "first_stage_model.post_quant_conv.weight" });
});

/** SD 1.5's tensor list in the original layout, as a real single file has it (shapes only). */
function sd15Shapes(): Map<string, number[]> {
  const spec = sd15ModelSpec();
  const params = recordParameters(spec);
  const shapes = new Map<string, number[]>();
  const up = (b: number) => b > 0;
  for (const [n, s] of params.unet) shapes.set(`model.diffusion_model.${unetToLdm(n, 2, up)}`, s);
  for (const [n, s] of params.vae)
    shapes.set(vaeToLdm(n, 4).stored, /attn_1\.(q|k|v|proj_out)\.weight$/.test(vaeToLdm(n, 4).stored) ? [...s, 1, 1] : s);
  for (const [n, s] of params.textEncoder) shapes.set(`cond_stage_model.transformer.${n}`, s);
  return shapes;
}

test("SD 1.x's standard shapes are recognised; SD 2.x, SDXL, LoRA and VAE-only files are refused", () => {
  const sd = sd15Shapes();
  assert.deepEqual(classifySingleFile(sd), { kind: "sd1-standard" });
  const small = new Map(sd);
  small.set("model.diffusion_model.input_blocks.0.0.weight", [160, 4, 3, 3]);
  assert.deepEqual(classifySingleFile(small), { kind: "sd1" });
  const refused = (shapes: Map<string, number[]>) => {
    const c = classifySingleFile(shapes);
    return c.kind === "refused" ? c.reason : "";
  };
  const sd2 = new Map(sd);
  sd2.set("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", [320, 1024]);
  assert.match(refused(sd2), /Stable Diffusion 2\.x/);
  assert.match(refused(new Map([...sd, ["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", [768]]])), /SDXL/);
  assert.match(refused(new Map([["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", [4, 320]]])), /LoRA/);
  assert.match(refused(new Map([...sd].filter(([n]) => n.startsWith("first_stage_model.")))), /VAE only/);
  assert.match(refused(new Map([...sd].filter(([n]) => !n.startsWith("cond_stage_model.")))), /CLIP text encoder/);
});

test("the fixture's single file reproduces every component tensor as the folder does, with the same errors", async () => {
  const only = /^(text|vae|unet2d|unet3d)\./;
  const run = async (weightsFile?: string) => {
    const lines: ReferenceLine[] = [];
    const counts = await runReference(FIXTURE, (l) => lines.push(l), { cacheDir, only, weightsFile });
    return { counts, errors: Object.fromEntries(lines.map((l) => [l.name, l.maxAbsErr])) };
  };
  const [folder, single] = [await run(), await run(SINGLE)];
  assert.equal(single.counts.failed, 0);
  assert.deepEqual(single.counts, folder.counts);
  assert.deepEqual(single.errors, folder.errors);
});

test("an edit from the single file with --model-config equals the folder's, byte for byte", async () => {
  const clip = makeSampleClip(2, 128);
  const prompt = "a red car driving down a curvy road in the countryside";
  const frames = async (model: Awaited<ReturnType<typeof loadModel>>) => {
    const inversion = await invertVideo(model, { frames: clip.frames, frameCount: 2, height: 128, width: 128, prompt, steps: 2 });
    const edit = await editVideo(model, inversion, {
      prompt: "a blue car driving down a curvy road in the countryside",
      sourcePrompt: prompt,
      p2p: DEFAULT_P2P,
    });
    return decodeLatents(model, edit.latents);
  };
  const fromFolder = await frames(await loadModel(path.join(FIXTURE, "model"), { cacheDir }));
  const fromFile = await loadModel(SINGLE, { cacheDir, modelConfig: path.join(FIXTURE, "model") });
  assert.notEqual(fromFile.identity, (await loadModel(path.join(FIXTURE, "model"), { cacheDir })).identity, "the cache tells them apart");
  assert.deepEqual(await frames(fromFile), fromFolder);
  assert.throws(() => openModel(SINGLE, { ema: true, modelConfig: path.join(FIXTURE, "model") }), /no model_ema/);
});

test("bad single files are refused before any compute: exit 2 naming what is wrong", () => {
  const dir = tempDir("single-bad");
  const f32 = (name: string, shape: number[]) => ({
    name,
    dtype: "F32" as const,
    shape,
    data: () => new Uint8Array(shape.reduce((a, b) => a * b, 1) * 4),
  });
  const lora = path.join(dir, "style-lora.safetensors");
  writeSafetensors(lora, [f32("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", [4, 8])]);
  const vaeOnly = path.join(dir, "vae.safetensors");
  writeSafetensors(vaeOnly, [f32("encoder.conv_in.weight", [8, 3, 3, 3])]);
  // The fixture's file with one UNet tensor dropped, and with one reshaped.
  const names = (s: string) =>
    JSON.parse(
      fs
        .readFileSync(s)
        .subarray(8, 8 + Number(fs.readFileSync(s).readBigUInt64LE(0)))
        .toString(),
    ) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const header = names(SINGLE);
  const bytes = fs.readFileSync(SINGLE);
  const base = 8 + Number(bytes.readBigUInt64LE(0));
  const rewrite = (file: string, edit: (name: string, shape: number[]) => number[] | undefined) =>
    writeSafetensors(
      file,
      Object.entries(header)
        .filter(([n]) => n !== "__metadata__")
        .flatMap(([n, e]) => {
          const shape = edit(n, e.shape);
          return shape
            ? [{ name: n, dtype: e.dtype as "F32", shape, data: () => bytes.subarray(base + e.data_offsets[0], base + e.data_offsets[1]) }]
            : [];
        }),
    );
  const missing = path.join(dir, "missing.safetensors");
  rewrite(missing, (n, s) => (n === "model.diffusion_model.out.2.weight" ? undefined : s));
  const reshaped = path.join(dir, "reshaped.safetensors");
  rewrite(reshaped, (n, s) => (n === "model.diffusion_model.input_blocks.0.0.weight" ? [s[0], s[1], 9, 1] : s));
  const config = path.join(FIXTURE, "model");
  for (const [model, extra, message] of [
    [lora, [], /LoRA/],
    [vaeOnly, [], /VAE only/],
    [SINGLE, [], /not SD 1\.x's standard ones.*--model-config DIR/],
    [missing, ["--model-config", config], /model\.diffusion_model\.out\.2\.weight \(UNet conv_out\.weight\)/],
    [
      reshaped,
      ["--model-config", config],
      /"model\.diffusion_model\.input_blocks\.0\.0\.weight" has shape \[16, 4, 9, 1\], the UNet config needs \[16, 4, 3, 3\]/,
    ],
    [SINGLE, ["--model-config", config, "--ema"], /--ema: the file has no model_ema/],
  ] as const) {
    const r = spawnSync(
      process.execPath,
      [path.resolve("bin/fatezero.js"), "edit", "--model", model, ...extra, "--target", "a blue car", "--size", "128", "--dry-run"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 2, `${path.basename(model)} ${extra.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
