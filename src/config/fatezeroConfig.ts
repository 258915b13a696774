// FateZero's own YAML edit configs (config/{teaser,style,attribute,shape,low_resource_teaser}/*.yaml of
// the official repository) → typed options, with the official loader's semantics
// (test_fatezero.py, P2pSampleLogger, ImageSequenceDataset, from_2d_model). Training (Tune-A-Video)
// configs are recognised and refused: this tool edits; a tuned checkpoint is passed as the model.
import * as fs from "node:fs";
import {
  DEFAULT_EDIT_LOOP,
  DEFAULT_INFLATION,
  DEFAULT_P2P,
  DEFAULT_UNET_PRECISION,
  UNET_PRECISIONS,
  type EditLoopOptions,
  type EditSpec,
  type UnetPrecision,
} from "../fatezero/editOptions";
import { BOOLEAN, STRING, intAtLeast, intBetween, oneOfKind, show, ConfigTree, type KeyPath } from "./configTree";
import { MAX_FRAMES, MAX_SIZE, MAX_STEPS } from "./limits";
import { readModelConfig, type ModelOptions } from "./modelConfig";
import { readP2pEntry } from "./p2pConfig";
import { GUIDANCE_SCALE, NEGATIVE_PROMPT, PROMPT } from "./values";
import { ConfigError } from "./yamlDocument";

/** Which frames of which video, as FateZero's ImageSequenceDataset samples them. */
export interface DatasetOptions {
  path?: string;
  /** The inversion prompt. */
  prompt: string;
  nSampleFrame: number;
  samplingRate: number;
  /** Window stride of FateZero's tuning sampler; editing uses the first window. */
  stride?: number;
  startSampleFrame: number;
  /** Pixels cropped from each side before resizing. */
  offset: { left: number; right: number; top: number; bottom: number };
  /** Square side the frames are resized and center-cropped to (FateZero's default is 512). */
  imageSize?: number;
}

/** A FateZero edit config, resolved and validated. */
export interface FatezeroConfig {
  /** The file (or name) it was read from. */
  source: string;
  pretrainedModelPath?: string;
  dataset: DatasetOptions;
  /** One per editing prompt; FateZero runs them all, index 0 usually being the reconstruction. */
  edits: EditSpec[];
  loop: EditLoopOptions & { steps: number; unetPrecision: UnetPrecision };
  model: ModelOptions;
  seed: number;
  sampleSeeds: number[];
  /** Things that load but probably do not do what the author meant (FateZero accepts them silently). */
  warnings: string[];
}

/** ImageSequenceDataset's sampling where the config says nothing: the first 8 frames, each one. */
const DATASET_DEFAULTS = { nSampleFrame: 8, samplingRate: 1, startSampleFrame: 0 };

/** Keys only a training config has (FateZero's tune/ configs, Tune-A-Video's own). */
const TRAINING_KEYS = [
  "trainer_pipeline_config",
  "learning_rate",
  "max_train_steps",
  "train_dataset",
  "train_data",
  "trainable_modules",
  "train_temporal_conv",
  "checkpointing_steps",
  "validation_steps",
  "gradient_checkpointing",
];

/** Read and validate a FateZero edit config file. */
export function loadFatezeroConfig(yamlPath: string): FatezeroConfig {
  let text: string;
  try {
    // A device (/dev/zero) or a huge file would be read until memory runs out: only small regular files are configs.
    const st = fs.statSync(yamlPath);
    if (!st.isFile()) throw new Error("not a regular file");
    if (st.size > MAX_CONFIG_BYTES) throw new Error(`${st.size} bytes; a config is at most ${MAX_CONFIG_BYTES}`);
    text = fs.readFileSync(yamlPath, "utf8");
  } catch (e) {
    throw new ConfigError(`${yamlPath}: cannot read the config: ${(e as Error).message}`);
  }
  return parseFatezeroConfig(text, yamlPath);
}

/** The largest config file read (FateZero's own are a few kB). */
const MAX_CONFIG_BYTES = 1 << 20;

/** Parse and validate the text of a FateZero edit config; `sourceName` names it in errors. */
export function parseFatezeroConfig(text: string, sourceName: string): FatezeroConfig {
  const tree = ConfigTree.parse(text, sourceName);
  if (tree.keys([]).length === 0) tree.fail([], "the config is empty");
  refuseTraining(tree);
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(message);
  const dataset = readDataset(tree, ["dataset_config"]);
  const { edits, loop } = readEditing(tree, ["editing_config"], dataset, warn);
  const seed = tree.optional(["seed"], intAtLeast(0)) ?? 0;
  const seedsPath = ["editing_config", "sample_seeds"];
  // Sample seeds only name FateZero's outputs here: DDIM with eta = 0 from inverted latents draws no noise.
  const sampleSeeds = tree.isAbsent(seedsPath) ? [0] : tree.items(seedsPath).map((p) => tree.read(p, intAtLeast(0)));
  const config: FatezeroConfig = {
    source: sourceName,
    dataset,
    edits,
    loop,
    model: readModelConfig(tree, ["model_config"]),
    seed,
    sampleSeeds,
    warnings,
  };
  const model = tree.optional(["pretrained_model_path"], STRING);
  if (model !== undefined) config.pretrainedModelPath = model;
  return config;
}

function refuseTraining(tree: ConfigTree): void {
  const found = TRAINING_KEYS.filter((k) => tree.get([k]) !== undefined);
  if (tree.get(["dataset_config", "class_data_root"]) !== undefined) found.push("dataset_config.class_data_root");
  if (found.length === 0) return;
  throw new ConfigError(
    `${tree.sourceName}: this is a training (Tune-A-Video) config (it has ${found.join(", ")}). ` +
      "fatezero edits videos and does not train: tune with FateZero's train_tune_a_video.py, then pass the tuned " +
      "checkpoint folder as the model (--model <folder>) together with an editing config.",
  );
}

function readDataset(tree: ConfigTree, path: KeyPath): DatasetOptions {
  if (tree.isAbsent(path)) tree.fail(path, "is required (the video and its prompt)");
  tree.keys(path); // fails unless a mapping
  const at = (key: string): KeyPath => [...path, key];
  const crop = tree.optional(at("crop"), STRING);
  // FateZero's alternative is a random crop, which would make the edit depend on the run.
  if (crop !== undefined && crop !== "center") tree.fail(at("crop"), `only "center" is supported, got ${show(crop)}`);
  const offset = { left: 0, right: 0, top: 0, bottom: 0 };
  for (const key of tree.keys(at("offset"))) {
    if (!(key in offset)) tree.fail([...at("offset"), key], "unknown offset key; known keys: left, right, top, bottom");
    offset[key as keyof typeof offset] = tree.read([...at("offset"), key], intAtLeast(0));
  }
  const dataset: DatasetOptions = {
    prompt: tree.read(at("prompt"), PROMPT),
    nSampleFrame: tree.optional(at("n_sample_frame"), intBetween(1, MAX_FRAMES)) ?? DATASET_DEFAULTS.nSampleFrame,
    samplingRate: tree.optional(at("sampling_rate"), intAtLeast(1)) ?? DATASET_DEFAULTS.samplingRate,
    startSampleFrame: tree.optional(at("start_sample_frame"), intAtLeast(0)) ?? DATASET_DEFAULTS.startSampleFrame,
    offset,
  };
  const videoPath = tree.optional(at("path"), STRING);
  if (videoPath !== undefined) dataset.path = videoPath;
  const stride = tree.optional(at("stride"), intAtLeast(-1));
  if (stride !== undefined && stride > 0) dataset.stride = stride;
  const imageSize = tree.optional(at("image_size"), intBetween(8, MAX_SIZE));
  if (imageSize !== undefined) dataset.imageSize = imageSize;
  return dataset;
}

function readEditing(
  tree: ConfigTree,
  path: KeyPath,
  dataset: DatasetOptions,
  warn: (message: string) => void,
): { edits: EditSpec[]; loop: FatezeroConfig["loop"] } {
  if (tree.isAbsent(path)) tree.fail(path, "is required (the editing prompts and their p2p_config)");
  tree.keys(path); // fails unless a mapping
  const at = (key: string): KeyPath => [...path, key];
  if (tree.optional(at("use_invertion_latents"), BOOLEAN) === false) {
    tree.fail(
      at("use_invertion_latents"),
      "false (editing from random noise) is not supported: fatezero always edits from the DDIM-inverted latents",
    );
  }
  const prompts = tree.items(at("editing_prompts")).map((p) => tree.read(p, PROMPT));
  if (prompts.length === 0) tree.fail(at("editing_prompts"), "needs at least one prompt");
  const clip = tree.optional(at("clip_length"), intBetween(1, MAX_FRAMES));
  if (clip !== undefined && clip !== dataset.nSampleFrame) {
    tree.fail(
      at("clip_length"),
      `${clip} differs from dataset_config.n_sample_frame ${dataset.nSampleFrame} (FateZero folds the frames by clip_length)`,
    );
  }
  // P2pSampleLogger's defaults: inversion attention on, prompt-to-prompt off, guidance 7.
  const inversionAttention = tree.optional(at("use_inversion_attention"), BOOLEAN) ?? true;
  const p2pEdit = tree.optional(at("prompt2prompt_edit"), BOOLEAN) ?? false;
  const guidance = tree.optional(at("guidance_scale"), GUIDANCE_SCALE);
  if (guidance === undefined) warn(`${tree.sourceName}: editing_config.guidance_scale is absent: FateZero's default 7 applies (not 7.5)`);
  const loop = {
    guidanceScale: guidance ?? 7,
    negativePrompt: tree.optional(at("negative_prompt"), NEGATIVE_PROMPT) ?? DEFAULT_EDIT_LOOP.negativePrompt,
    attention: !p2pEdit ? ("none" as const) : inversionAttention ? ("inversion" as const) : ("reconstruction" as const),
    controlQueryLimit: DEFAULT_EDIT_LOOP.controlQueryLimit,
    steps: tree.read(at("num_inference_steps"), intBetween(1, MAX_STEPS)),
    // Not a FateZero key: its configs never set it, so they keep the official float32 UNet.
    unetPrecision: tree.optional(at("unet_precision"), oneOfKind(UNET_PRECISIONS)) ?? DEFAULT_UNET_PRECISION,
  };
  const explicitSource = tree.optional(at("source_prompt"), PROMPT);
  if (explicitSource === undefined && prompts.length === 1) {
    warn(
      `${tree.sourceName}: the only editing prompt is also the controller's source prompt, so it edits nothing ` +
        "(FateZero's test_fatezero.py would take dataset_config.prompt); set editing_config.source_prompt to edit from another prompt",
    );
  }
  const sourcePrompt = explicitSource ?? prompts[0];
  const p2pPath = at("p2p_config");
  if (!p2pEdit && !tree.isAbsent(p2pPath)) {
    warn(
      `${tree.sourceName}: editing_config.p2p_config is ignored: prompt2prompt_edit is not true, ` +
        "so FateZero edits without attention control",
    );
  }
  const entries = readP2pEntries(tree, p2pPath, prompts, p2pEdit);
  const edits = prompts.map((prompt, i) => ({
    prompt,
    sourcePrompt,
    p2p: entries.has(i) ? readP2pEntry(tree, [...p2pPath, entries.get(i)!], inversionAttention, warn) : { ...DEFAULT_P2P },
  }));
  const words = new Set([dataset.prompt, sourcePrompt, ...prompts].flatMap((p) => p.split(" ")));
  for (const key of entries.values()) warnMissingWords(tree, [...p2pPath, key], words, warn);
  return { edits, loop };
}

/**
 * Say where a p2p entry names a word that is in none of the config's prompts. FateZero ignores such words
 * (its own configs carry template words like blend_words [['cat'], ['cat']], which keep all source
 * self-attention), so they stay allowed; a typo must not change the edit unannounced.
 */
function warnMissingWords(tree: ConfigTree, entry: KeyPath, words: ReadonlySet<string>, warn: (message: string) => void): void {
  const say = (path: KeyPath, word: string) =>
    warn(`${tree.where(path)}: "${word}" is a word of none of the config's prompts, so it has no effect (a typo?)`);
  const check = (path: KeyPath) => {
    const word = tree.get(path);
    if (typeof word === "string" && !words.has(word)) say(path, word);
  };
  const blend = [...entry, "blend_words"];
  if (Array.isArray(tree.get(blend))) {
    for (const side of tree.items(blend)) (Array.isArray(tree.get(side)) ? tree.items(side) : [side]).forEach(check);
  }
  const eqWords = [...entry, "eq_params", "words"];
  if (Array.isArray(tree.get(eqWords))) tree.items(eqWords).forEach(check);
  const cross = [...entry, "cross_replace_steps"];
  const steps = tree.get(cross);
  if (steps !== null && typeof steps === "object" && !Array.isArray(steps)) {
    for (const key of tree.keys(cross)) if (key !== "default_" && !words.has(key)) say([...cross, key], key);
  }
}

/** The p2p_config key of each prompt index; every index must name a prompt, and with prompt2prompt_edit every prompt needs one. */
function readP2pEntries(tree: ConfigTree, path: KeyPath, prompts: string[], required: boolean): Map<number, string> {
  if (required && tree.isAbsent(path))
    tree.fail(path, "is required when prompt2prompt_edit is true (one entry per editing prompt: 0, 1, …)");
  const entries = new Map<number, string>();
  for (const key of tree.keys(path)) {
    if (!/^\d+$/.test(key)) tree.fail([...path, key], "p2p_config keys are editing-prompt indices (0, 1, …)");
    const index = Number(key);
    if (index >= prompts.length) tree.fail([...path, key], `there is no editing prompt ${index} (editing_prompts has ${prompts.length})`);
    entries.set(index, key);
  }
  if (required) {
    prompts.forEach((prompt, i) => {
      if (!entries.has(i)) tree.fail(path, `no entry for editing prompt ${i} (${show(prompt)})`);
    });
  }
  return entries;
}

/** A config for the flag form (no YAML): FateZero's defaults around one source prompt. */
export function defaultFatezeroConfig(sourcePrompt: string): FatezeroConfig {
  return {
    source: "command line",
    dataset: {
      prompt: sourcePrompt,
      ...DATASET_DEFAULTS,
      offset: { left: 0, right: 0, top: 0, bottom: 0 },
    },
    edits: [{ prompt: sourcePrompt, sourcePrompt, p2p: { ...DEFAULT_P2P } }],
    loop: { ...DEFAULT_EDIT_LOOP, steps: 50, unetPrecision: DEFAULT_UNET_PRECISION },
    model: { selectors: [...DEFAULT_INFLATION.selectors], leastScChannel: DEFAULT_INFLATION.leastScChannel },
    seed: 0,
    sampleSeeds: [0],
    warnings: [],
  };
}
