import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultFatezeroConfig, loadFatezeroConfig, parseFatezeroConfig, type FatezeroConfig } from "../src/config/fatezeroConfig";
import { resolveEditPlan, type EditPlan } from "../src/config/editPlan";
import { formatEditPlan } from "../src/config/planText";
import type { UnetShape } from "../src/networks/unet";
import { frameSizeUnit, type ModelShape } from "../src/fatezero/loadModel";
import { crossStepRange, crossStepRanges, selfStepRange } from "../src/fatezero/stepWindows";
import { unetConfig } from "../src/networks/configs";
import { blendMaskThreshold } from "../src/fatezero/editOptions";
import { tempDir } from "./sharedData";

const CONFIGS = path.resolve(process.cwd(), "../shared/data/fatezero-configs");
const FIXTURE = path.resolve(process.cwd(), "../shared/reference/public");
const OVERRIDES = { model: "tiny", video: "../shared/data/car-turn" };
const TINY: UnetShape = {
  inChannels: 4,
  blockOutChannels: [32, 64, 64, 64],
  downBlockTypes: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
  layersPerBlock: 2,
  heads: [4, 4, 4, 4],
};
const SD: UnetShape = { ...TINY, blockOutChannels: [320, 640, 1280, 1280], heads: [8, 8, 8, 8] };
/** A model of that UNet with SD 1.x's VAE factor and frame size. */
const shapeOf = (unet: UnetShape): ModelShape => ({ unet, vaeFactor: 8, nativeSize: 512 });

const yamlFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : []));
const official = (rel: string) => loadFatezeroConfig(path.join(CONFIGS, rel));

test("every official edit config parses and resolves to a JSON-serialisable plan", () => {
  const files = yamlFiles(CONFIGS).filter((f) => !f.includes(`${path.sep}tune${path.sep}`));
  assert.ok(files.length >= 20, `found ${files.length} configs`);
  for (const file of files) {
    const cfg = loadFatezeroConfig(file);
    const plan = resolveEditPlan(cfg, OVERRIDES, shapeOf(TINY));
    assert.equal(plan.edits.length, cfg.edits.length, file);
    assert.equal(plan.frames.length, cfg.dataset.nSampleFrame, file);
    assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan, file);
    const text = formatEditPlan(plan);
    for (const e of plan.edits) assert.ok(text.includes(JSON.stringify(e.prompt)), `${file}: ${e.prompt}`);
    assert.equal(plan.layers.length, 2 * (3 * 2 + 1 + 3 * 3), file);
  }
});

test("every tune/ config is refused as a training config", () => {
  const files = yamlFiles(path.join(CONFIGS, "tune"));
  assert.ok(files.length >= 3);
  for (const file of files) {
    assert.throws(
      () => loadFatezeroConfig(file),
      (e: Error) => {
        assert.match(e.message, /training \(Tune-A-Video\) config/);
        assert.match(e.message, /does not train/);
        assert.match(e.message, /tuned checkpoint folder as the model/);
        assert.ok(e.message.startsWith(file), e.message);
        return true;
      },
    );
  }
});

test("teaser/jeep_posche.yaml: inversion prompt, replace edit, blend words and step windows", () => {
  const cfg = official("teaser/jeep_posche.yaml");
  const plan = resolveEditPlan(cfg, OVERRIDES, shapeOf(TINY));
  assert.equal(plan.inversionPrompt, "a silver jeep driving down a curvy road in the countryside,");
  assert.equal(cfg.pretrainedModelPath, "./ckpt/jeep_tuned_200");
  assert.deepEqual(plan.frames, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(plan.size, [512, 512]);
  assert.equal(plan.steps, 50);
  assert.equal(plan.attention, "inversion");
  assert.deepEqual(cfg.model, { selectors: [-1, "first"], leastScChannel: 0, lora: 160 });
  const [recon, edit] = plan.edits;
  assert.equal(recon.reconstruction, true);
  assert.equal(recon.controller, "refine");
  assert.equal(recon.sourcePrompt, "a silver jeep driving down a curvy road in the countryside");
  assert.deepEqual(recon.reweight, [
    { word: "watercolor", value: 10, inPrompt: false },
    { word: "painting", value: 10, inPrompt: false },
  ]);
  assert.deepEqual(recon.cross.steps, { start: 0, end: 40 }); // int(0.8·51) = 40 rows
  assert.deepEqual(recon.self.steps, { start: 0, end: 45 }); // int(50·0.9)
  assert.equal(edit.prompt, "a Porsche car driving down a curvy road in the countryside");
  assert.equal(edit.sourcePrompt, recon.sourcePrompt);
  assert.equal(edit.controller, "replace");
  assert.deepEqual(edit.spec.p2p.blendWords, [
    ["silver", "jeep"],
    ["Porsche", "car"],
  ]);
  assert.deepEqual(edit.blend, {
    sourceWords: [
      { word: "silver", inPrompt: true },
      { word: "jeep", inPrompt: true },
    ],
    targetWords: ["Porsche", "car"],
    threshold: 0.3,
    selfAttention: true,
    latents: false,
  });
  assert.equal(edit.spec.p2p.crossReplaceSteps, 0.5);
  assert.deepEqual(edit.cross.steps, { start: 0, end: 25 }); // int(0.5·51) = 25 → steps 0..24
  assert.deepEqual(edit.self.steps, { start: 0, end: 25 });
  const text = formatEditPlan(plan);
  assert.match(text, /controller replace/);
  assert.match(text, /steps 0–24 \(25 of 50\)/);
  // 512 px: the 64×64 level is not controlled, every other level is (FateZero's 32² limit).
  for (const l of plan.layers) assert.equal(l.controlled, l.queryLength <= 1024, l.module);
  assert.ok(plan.layers.some((l) => l.queryLength === 4096 && !l.controlled));
});

test("teaser/jeep_watercolor.yaml: equalizer, 'mid' selectors and least_sc_channel", () => {
  const cfg = official("teaser/jeep_watercolor.yaml");
  assert.deepEqual(cfg.model, { selectors: ["mid"], leastScChannel: 640, lora: 160 });
  const [recon, edit] = cfg.edits;
  assert.equal(recon.p2p.blendWords, undefined);
  assert.equal(recon.p2p.blendSelfAttention, true);
  assert.deepEqual(recon.p2p.blendTh, [2, 2]);
  assert.deepEqual(edit.p2p.eqParams, { words: ["watercolor"], values: [10] });
  assert.equal(edit.p2p.isReplaceController, false);
  const tiny = resolveEditPlan(cfg, OVERRIDES, shapeOf(TINY));
  assert.equal(tiny.edits[1].controller, "refine");
  assert.deepEqual(tiny.edits[1].reweight, [{ word: "watercolor", value: 10, inPrompt: true }]);
  assert.equal(tiny.edits[0].blend, null);
  assert.ok(
    tiny.layers.every((l) => l.selectors.length === 0),
    "64 channels < 640: plain per-frame attention everywhere",
  );
  const sd = resolveEditPlan(cfg, OVERRIDES, shapeOf(SD));
  for (const l of sd.layers.filter((x) => x.kind === "self")) {
    assert.deepEqual(l.selectors, l.channels >= 640 ? ["mid"] : [], l.module);
    assert.equal(l.keyLength, l.queryLength, l.module); // one key frame either way
  }
  assert.ok(sd.layers.some((l) => l.channels === 320 && l.selectors.length === 0));
});

test("plans match the layer tables and controller windows of the reference runs", () => {
  const refs = JSON.parse(fs.readFileSync(path.join(FIXTURE, "refs.json"), "utf8"));
  const unet = unetConfig(JSON.parse(fs.readFileSync(path.join(FIXTURE, "model/unet/config.json"), "utf8")));
  for (const [run, rel] of [
    ["style", "teaser/jeep_watercolor.yaml"],
    ["shape", "shape/jeep_posche.yaml"],
  ]) {
    const r = refs.runs[run];
    // The runs used the yamls' settings at a smaller size, with model_config adapted to the tiny UNet.
    const cfg = parseFatezeroConfig(
      fs
        .readFileSync(path.join(CONFIGS, rel), "utf8")
        .replace(/model_config:[^]*?\n(?=\S)/, `model_config: ${JSON.stringify(r.fatezero_config.model_config)}\n`),
      rel,
    );
    const plan = resolveEditPlan(
      cfg,
      { ...OVERRIDES, size: r.frames.size, frames: r.frames.n_sample_frame, steps: r.timesteps.length },
      shapeOf(unet),
    );
    const selectors = (v: unknown) => (v === undefined ? [] : typeof v === "string" ? [-1, "first"] : v);
    const want = r.attention_layers.map((l: Record<string, unknown>) => [
      l.module,
      l.place,
      l.is_cross,
      l.query_len,
      l.key_len,
      l.heads,
      selectors(l.SparseCausalAttention_index),
      l.stored_and_controlled,
      l.store_key ?? null,
      l.store_index ?? null,
    ]);
    const got = plan.layers.map((l) => [
      l.module,
      l.place,
      l.kind === "cross",
      l.queryLength,
      l.keyLength,
      l.heads,
      l.selectors,
      l.controlled,
      l.store?.key ?? null,
      l.store?.index ?? null,
    ]);
    assert.deepEqual(got, want, run);
    r.edits.forEach((e: Record<string, unknown>, k: number) => {
      const p = plan.edits[k];
      assert.equal(p.prompt, e.prompt);
      assert.equal(p.sourcePrompt, e.source_prompt);
      const cls = e.controller_class === "AttentionReweight" ? e.prev_controller_class : e.controller_class;
      assert.equal(p.controller, cls === "AttentionReplace" ? "replace" : "refine", `${run} ${k}`);
      assert.equal(p.reweight.length > 0, e.controller_class === "AttentionReweight");
      assert.deepEqual([p.self.steps.start, p.self.steps.end], e.num_self_replace);
      const active = Array.from({ length: p.cross.steps.end - p.cross.steps.start }, (_, i) => p.cross.steps.start + i);
      assert.deepEqual(active, e.cross_replace_steps_active);
      assert.equal(p.blend !== null && p.blend.selfAttention, e.attention_blend);
    });
  }
});

test("step windows: (N+1)-row cross schedule, N-based self window, per-word dicts", () => {
  assert.deepEqual(crossStepRange(0.8, 10), { start: 0, end: 8 });
  assert.deepEqual(crossStepRange(0.5, 10), { start: 0, end: 5 });
  assert.deepEqual(crossStepRange(1, 50), { start: 0, end: 50 });
  assert.deepEqual(crossStepRange(0, 50), { start: 0, end: 0 });
  assert.deepEqual(crossStepRange([0.2, 0.6], 10), { start: 2, end: 6 });
  assert.deepEqual(selfStepRange(0.9, 10), { start: 0, end: 9 });
  assert.deepEqual(selfStepRange(0.5, 10), { start: 0, end: 5 });
  assert.deepEqual(selfStepRange([0.2, 0.6], 50), { start: 10, end: 30 });
  assert.deepEqual(crossStepRanges({ default_: 0.8, watercolor: [0, 0.4] }, 10), {
    all: { start: 0, end: 8 },
    words: [{ word: "watercolor", steps: { start: 0, end: 4 } }],
  });
  assert.deepEqual(crossStepRanges({ jeep: 0.5 }, 10).all, { start: 0, end: 10 }); // FateZero's default_ (0, 1)
});

const BASE = `pretrained_model_path: ./ckpt/sd
dataset_config:
  path: data/car-turn
  prompt: "a silver jeep driving down a curvy road in the countryside"
  n_sample_frame: 8
  sampling_rate: 1
editing_config:
  use_inversion_attention: true
  guidance_scale: 7.5
  editing_prompts: [
    a silver jeep driving down a curvy road in the countryside,
    a Porsche car driving down a curvy road in the countryside,
  ]
  p2p_config:
    0:
      cross_replace_steps: {default_: 0.8}
      self_replace_steps: 0.9
    1:
      cross_replace_steps: 0.5
      self_replace_steps: 0.5
      blend_th: [0.3, 0.3]
  clip_length: "\${..dataset_config.n_sample_frame}"
  num_inference_steps: 10
  prompt2prompt_edit: true
seed: 0
`;

const dir = tempDir("config");
let counter = 0;
/** Write BASE with replacements to a temp file and load it. */
function loadVariant(...edits: [string, string][]): FatezeroConfig {
  let text = BASE;
  for (const [from, to] of edits) {
    assert.ok(text.includes(from), `BASE lacks ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  const file = path.join(dir, `variant${counter++}.yaml`);
  fs.writeFileSync(file, text);
  return loadFatezeroConfig(file);
}
const P2P1 = "      blend_th: [0.3, 0.3]\n";
const failsWith = (re: RegExp, ...edits: [string, string][]) =>
  assert.throws(
    () => loadVariant(...edits),
    (e: Error) => {
      assert.match(e.message, re);
      assert.match(e.message, /variant\d+\.yaml/, "names the file");
      return true;
    },
  );

test("the base config loads with FateZero's defaults", () => {
  const cfg = loadVariant();
  assert.equal(cfg.edits.length, 2);
  assert.equal(cfg.edits[1].p2p.isReplaceController, true, "is_replace_controller defaults to true");
  assert.equal(cfg.edits[0].p2p.crossReplaceSteps, 0.8);
  assert.deepEqual(cfg.model, { selectors: [-1, "first"], leastScChannel: 0 });
  assert.deepEqual(cfg.loop, {
    guidanceScale: 7.5,
    negativePrompt: "empty",
    attention: "inversion",
    controlQueryLimit: 1024,
    steps: 10,
    unetPrecision: "fp32",
  });
  assert.deepEqual(cfg.sampleSeeds, [0]);
  assert.deepEqual(cfg.warnings, []);
});

test("interpolations: relative, absolute, in strings, to mappings; lazy like OmegaConf", () => {
  const clip = loadVariant([
    'clip_length: "${..dataset_config.n_sample_frame}"',
    'clip_length: "${..dataset_config.n_sample_frame}"\n  source_prompt: "${dataset_config.prompt}"',
  ]);
  assert.equal(clip.edits[1].sourcePrompt, "a silver jeep driving down a curvy road in the countryside");
  failsWith(/editing_config\.clip_length: 4 differs from dataset_config\.n_sample_frame 8/, [
    'clip_length: "${..dataset_config.n_sample_frame}"',
    "clip_length: 4",
  ]);
  const mixed = loadVariant(
    [
      '  prompt: "a silver jeep driving down a curvy road in the countryside"',
      '  thing: jeep\n  prompt: "a silver ${.thing} driving down a curvy road in the ${..place}"',
    ],
    ["seed: 0", "seed: 0\nplace: countryside\nshared:\n  cross_replace_steps: 0.3\n  self_replace_steps: 0.2\nunused: ${nowhere.at.all}"],
    ["    1:\n      cross_replace_steps: 0.5\n      self_replace_steps: 0.5\n" + P2P1, "    1: ${...shared}\n"],
  );
  assert.equal(mixed.dataset.prompt, "a silver jeep driving down a curvy road in the countryside");
  assert.equal(mixed.edits[1].p2p.crossReplaceSteps, 0.3);
  assert.equal(mixed.edits[1].p2p.selfReplaceSteps, 0.2);
  failsWith(
    /editing_config\.num_inference_steps: interpolation cycle: editing_config\.num_inference_steps → steps → editing_config\.num_inference_steps/,
    ["num_inference_steps: 10", "num_inference_steps: ${..steps}"],
    ["seed: 0", "seed: 0\nsteps: ${editing_config.num_inference_steps}"],
  );
  failsWith(/editing_config\.num_inference_steps: cannot resolve \$\{\.\.validation\.steps\}: validation\.steps does not exist/, [
    "num_inference_steps: 10",
    "num_inference_steps: ${..validation.steps}",
  ]);
  const doubling = Array.from({ length: 40 }, (_, i) => `s${i + 1}: "\${s${i}}\${s${i}}"`).join("\n");
  failsWith(
    /s\d+: interpolates to more than 100000 characters/,
    ['  prompt: "a silver jeep driving down a curvy road in the countryside"', '  prompt: "${s40}"'],
    ["seed: 0", `seed: 0\ns0: ab\n${doubling}`],
  );
  failsWith(/resolvers .* are not supported/, ["num_inference_steps: 10", "num_inference_steps: ${oc.env:STEPS}"]);
});

test("validation errors name the file, the line and the key path", () => {
  failsWith(/variant\d+\.yaml:21: editing_config\.p2p_config\.1\.blend_th: expected two numbers/, [P2P1, "      blend_th: 0.3\n"]);
  failsWith(
    /editing_config\.p2p_config\.1\.blend_word: unknown p2p_config key; known keys: is_replace_controller, cross_replace_steps, .*blend_words/,
    [P2P1, P2P1 + "      blend_word: [[jeep], [car]]\n"],
  );
  failsWith(/editing_config\.p2p_config\.2: there is no editing prompt 2 \(editing_prompts has 2\)/, [
    P2P1,
    P2P1 + "    2:\n      cross_replace_steps: 0.5\n      self_replace_steps: 0.5\n",
  ]);
  failsWith(/editing_config\.p2p_config: no entry for editing prompt 1/, [
    "    1:\n      cross_replace_steps: 0.5\n      self_replace_steps: 0.5\n" + P2P1,
    "",
  ]);
  failsWith(/editing_config\.p2p_config\.1\.cross_replace_steps: is required/, ["    1:\n      cross_replace_steps: 0.5\n", "    1:\n"]);
  failsWith(/editing_config\.editing_prompts: is required/, ["  editing_prompts: [", "  prompts: ["]);
  failsWith(/dataset_config\.prompt: is required/, ['  prompt: "a silver jeep', '  caption: "a silver jeep']);
  failsWith(/editing_config\.num_inference_steps: is required/, ["  num_inference_steps: 10\n", ""]);
  failsWith(/editing_config\.guidance_scale: expected a number in 0…100, got "high"/, ["guidance_scale: 7.5", "guidance_scale: high"]);
  failsWith(/editing_config\.p2p_config\.1\.is_replace_controller: expected true or false, got "yes"/, [
    P2P1,
    P2P1 + "      is_replace_controller: yes\n",
  ]);
  failsWith(/editing_config\.p2p_config\.0\.self_replace_steps: expected a number in \[0, 1\], got 1\.5/, [
    "self_replace_steps: 0.9",
    "self_replace_steps: 1.5",
  ]);
  failsWith(/editing_config\.p2p_config\.1\.blend_words: expected \[\[source words\], \[target words\]\]/, [
    P2P1,
    P2P1 + "      blend_words: jeep\n",
  ]);
  failsWith(/editing_config\.p2p_config\.1\.eq_params\.word: unknown eq_params key/, [
    P2P1,
    P2P1 + "      eq_params: {word: [car], values: [2]}\n",
  ]);
  failsWith(/dataset_config\.n_sample_frame: expected an integer in 1…10000, got -1/, ["n_sample_frame: 8", "n_sample_frame: -1"]);
  failsWith(/model_config\.SparseCausalAttention_index: "centre" is not an int or one of/, [
    "seed: 0",
    "seed: 0\nmodel_config:\n  SparseCausalAttention_index: [-1, centre]",
  ]);
  failsWith(/model_config\.attention_head_dim: unknown model_config key/, ["seed: 0", "seed: 0\nmodel_config:\n  attention_head_dim: 8"]);
  failsWith(/model_config\.temporal_downsample: temporal downsampling is not supported/, [
    "seed: 0",
    "seed: 0\nmodel_config:\n  temporal_downsample: true",
  ]);
  failsWith(/editing_config\.use_invertion_latents: false .* is not supported/, [
    "  use_inversion_attention: true",
    "  use_invertion_latents: false",
  ]);
  failsWith(/dataset_config: is required/, ["dataset_config:\n", "dataset:\n"]);
});

test("YAML syntax errors, duplicate keys and tags are refused with line numbers", () => {
  failsWith(/variant\d+\.yaml:1[0-9]:\d+: YAML: /, [
    "    a Porsche car driving down a curvy road in the countryside,\n  ]",
    "    a Porsche car driving down a curvy road in the countryside,\n",
  ]);
  failsWith(/variant\d+\.yaml:26: YAML: map keys must be unique; "seed" is repeated/, ["seed: 0", "seed: 0\nseed: 1"]);
  failsWith(/variant\d+\.yaml:26:\d+: YAML: Unresolved tag/, ["seed: 0", "seed: 0\nthing: !!python/object:os.system ls"]);
  assert.throws(() => parseFatezeroConfig("", "empty.yaml"), /empty\.yaml: \(top level\): the config is empty/);
});

test("FateZero's quirks: 'None', single-list blend words, zip-truncated eq_params, attention modes", () => {
  const none = loadVariant([P2P1, P2P1 + "      blend_words: 'None'\n"]);
  assert.equal(none.edits[1].p2p.blendWords, undefined);
  const single = official("shape/man_wonder_bat_spider.yaml");
  assert.deepEqual(single.edits[1].p2p.blendWords, [["man"], []]);
  const eq = loadVariant([P2P1, P2P1 + "      eq_params: {words: Porsche, values: [10, 20]}\n"]);
  assert.deepEqual(eq.edits[1].p2p.eqParams, { words: ["Porsche"], values: [10] });
  assert.match(eq.warnings[0], /1 words but 2 values/);
  assert.equal(loadVariant(["use_inversion_attention: true", "use_inversion_attention: false"]).loop.attention, "reconstruction");
  const plain = loadVariant(["  prompt2prompt_edit: true\n", ""]);
  assert.equal(plain.loop.attention, "none");
  assert.match(plain.warnings.join("\n"), /p2p_config is ignored/);
  const forced = loadVariant([P2P1, P2P1 + "      use_inversion_attention: false\n"]);
  assert.equal(forced.loop.attention, "inversion");
  assert.match(forced.warnings.join("\n"), /overridden by editing_config\.use_inversion_attention/);
  const perWord = loadVariant(["cross_replace_steps: 0.5", "cross_replace_steps: {default_: [0.1, 0.5], Porsche: 0.2}"]);
  assert.deepEqual(perWord.edits[1].p2p.crossReplaceSteps, { default_: [0.1, 0.5], Porsche: 0.2 });
  const lowRes = official("low_resource_teaser/jeep_watercolor_ddim_10_steps.yaml");
  assert.equal(lowRes.edits.length, 1);
  assert.equal(lowRes.edits[0].sourcePrompt, "a silver jeep driving down a curvy road in the countryside");
  assert.equal(lowRes.loop.steps, 10);
  const latentBlend = official("teaser/jeep_posche_local_latent_blend.yaml");
  assert.equal(latentBlend.loop.guidanceScale, 7);
  assert.match(latentBlend.warnings.join("\n"), /only editing prompt is also the controller's source prompt/);
  const lily = official("style/lily_monet.yaml");
  assert.deepEqual(resolveEditPlan(lily, OVERRIDES, shapeOf(TINY)).frames, [1, 21, 41, 61, 81, 101, 121, 141]);
});

test("sizes are multiples of the model's frame size unit: 64 for SD-shaped UNets, 32 for a three-level one", () => {
  const cfg = official("teaser/jeep_posche.yaml");
  const threeLevels: UnetShape = {
    ...TINY,
    blockOutChannels: [32, 64, 64],
    downBlockTypes: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    heads: [4, 4, 4],
  };
  assert.equal(frameSizeUnit(8, TINY), 64);
  assert.equal(frameSizeUnit(8, threeLevels), 32);
  assert.deepEqual(resolveEditPlan(cfg, { ...OVERRIDES, size: 96 }, shapeOf(threeLevels)).size, [96, 96]);
  assert.throws(() => resolveEditPlan(cfg, { ...OVERRIDES, size: 80 }, shapeOf(threeLevels)), /--size: 80×80 is not a multiple of 32/);
  assert.throws(() => resolveEditPlan(cfg, { ...OVERRIDES, size: 96 }, shapeOf(TINY)), /--size: 96×96 is not a multiple of 64/);
});

test("overrides: size, frames, steps, flag-form prompts, blend words and threshold", () => {
  const cfg = official("teaser/jeep_posche.yaml");
  const plan: EditPlan = resolveEditPlan(cfg, { ...OVERRIDES, size: [320, 448], frames: 4, steps: 10, out: "out.mp4" }, shapeOf(TINY));
  assert.deepEqual(plan.size, [320, 448]);
  assert.deepEqual(plan.latentSize, [40, 56]);
  assert.deepEqual(plan.frames, [0, 1, 2, 3]);
  assert.equal(plan.out, "out.mp4");
  assert.deepEqual(plan.edits[1].cross.steps, { start: 0, end: 5 });
  assert.equal(plan.layers[0].queryLength, 40 * 56);
  assert.throws(() => resolveEditPlan(cfg, { ...OVERRIDES, size: 500 }, shapeOf(TINY)), /--size: 500×500 is not a multiple of 64/);
  assert.throws(() => resolveEditPlan(defaultFatezeroConfig("a jeep"), { video: "v" }, shapeOf(TINY)), /no model/);
  assert.throws(() => resolveEditPlan(defaultFatezeroConfig("a jeep"), { model: "tiny" }, shapeOf(TINY)), /no video/);
  assert.equal(resolveEditPlan(cfg, { video: "v", model: "m" }, shapeOf(TINY)).model, "m");

  const flags = resolveEditPlan(
    defaultFatezeroConfig("a jeep on a road"),
    { ...OVERRIDES, source: "a jeep on a road", target: "a car on a road", blendWords: ["jeep"], threshold: 0.5 },
    shapeOf(TINY),
  );
  assert.equal(flags.inversionPrompt, "a jeep on a road");
  assert.deepEqual(
    flags.edits.map((e) => [e.prompt, e.sourcePrompt, e.reconstruction]),
    [
      ["a jeep on a road", "a jeep on a road", true],
      ["a car on a road", "a jeep on a road", false],
    ],
  );
  assert.equal(flags.edits[0].blend, null, "the reconstruction keeps its own blend settings");
  assert.deepEqual(flags.edits[1].blend?.sourceWords, [{ word: "jeep", inPrompt: true }]);
  assert.equal(flags.edits[1].blend?.threshold, 0.5);
  assert.equal(flags.edits[1].spec.p2p.blendSelfAttention, true);

  const retarget = resolveEditPlan(cfg, { ...OVERRIDES, source: "a grey jeep on a road", target: "a red bus on a road" }, shapeOf(TINY));
  assert.equal(retarget.inversionPrompt, "a grey jeep on a road");
  assert.equal(retarget.edits[1].controller, "replace", "the config's edit 1 settings (is_replace_controller) carry over");
  assert.deepEqual(JSON.parse(JSON.stringify(retarget)), retarget);
});

test("blend_th: the printed plan names the threshold the run's masks use (FateZero's element 0, latents too)", () => {
  const text = fs
    .readFileSync(path.join(CONFIGS, "teaser/jeep_posche.yaml"), "utf8")
    .replace(
      "blend_self_attention: True\n            blend_th: [0.3, 0.3]",
      "blend_self_attention: True\n            blend_latents: True\n            blend_th: [0.3, 0.5]",
    );
  const plan = resolveEditPlan(parseFatezeroConfig(text, "jeep_latents.yaml"), OVERRIDES, shapeOf(TINY));
  const edit = plan.edits[1];
  assert.deepEqual(edit.spec.p2p.blendTh, [0.3, 0.5]);
  assert.equal(edit.spec.p2p.blendLatents, true);
  // What editVideo hands to the self-attention mask and to LatentBlend is blendMaskThreshold of the same spec.
  assert.equal(blendMaskThreshold(edit.spec.p2p), 0.3);
  assert.equal(edit.blend?.threshold, blendMaskThreshold(edit.spec.p2p));
  const printed = formatEditPlan(plan);
  assert.match(printed, /blend {6}mask of silver jeep > 0\.3, target words Porsche car; blends self-attention \+ latents\n/);
  assert.doesNotMatch(printed, /0\.5/);
});
