// What an edit run will do, resolved from a FateZero config, command-line overrides and the UNet's
// shape, before anything heavy runs: `fatezero edit --dry-run` prints it (as text or as JSON). Pure: it
// reads no files, so a plan can be made for a video or model that is not on this machine.
import type { FrameSelector } from "../networks/frameLayout";
import {
  blendMaskThreshold,
  DEFAULT_P2P,
  type AttentionSourceMode,
  type EditSpec,
  type NegativePrompt,
  type UnetPrecision,
} from "../fatezero/editOptions";
import { defaultFrameChunk } from "../fatezero/frameWindows";
import { FATEZERO_INVERSION_ITERATIONS } from "../fatezero/invertVideo";
import { attentionSites, type AttentionLayer } from "../fatezero/attentionSites";
import { frameSizeUnit, type ModelShape } from "../fatezero/loadModel";
import type { FatezeroConfig } from "./fatezeroConfig";
import { positiveInt } from "../util/integers";
import { MAX_INVERSION_ITERATIONS } from "./limits";
import { crossStepRanges, selfStepRange, type StepRange } from "../fatezero/stepWindows";

/** Command-line values that replace the config's. */
export interface PlanOverrides {
  video?: string;
  model?: string;
  /** For a single-file model: a diffusers folder with its configs and tokenizer. */
  modelConfig?: string;
  /** For a single-file model: use its EMA UNet weights. */
  ema?: boolean;
  /** Frame side, or [height, width]. */
  size?: number | [number, number];
  frames?: number;
  /** Frames per UNet window of a long clip (default `defaultFrameChunk`). */
  frameChunk?: number;
  steps?: number;
  /** Fixed-point iterations per inversion step (default FATEZERO_INVERSION_ITERATIONS: plain DDIM). */
  inversionIterations?: number;
  /** Classifier-free guidance scale (default the config's). */
  guidanceScale?: number;
  /** Guidance's unconditional text (default the config's: FateZero's empty prompt). */
  negativePrompt?: NegativePrompt;
  /** The UNet's precision for the inversion and the edits (default the config's: float32). */
  unetPrecision?: UnetPrecision;
  /** Source prompt: the inversion prompt and every edit's controller source. */
  source?: string;
  /** Target prompt: makes a two-edit plan, [reconstruction of the source, edit to the target]. */
  target?: string;
  /** Source-prompt words whose attention forms the blend mask (applied to the non-reconstruction edits). */
  blendWords?: string[];
  /** Blend-mask threshold (applied to the non-reconstruction edits). */
  threshold?: number;
  out?: string;
}

/** A word of a prompt and whether FateZero's exact `split(' ')` match finds it there (if not, it has no effect). */
export interface PlannedWord {
  word: string;
  inPrompt: boolean;
}

/** One edit of the plan. */
export interface PlannedEdit {
  index: number;
  prompt: string;
  sourcePrompt: string;
  /** The prompt equals its source: FateZero's reconstruction run. */
  reconstruction: boolean;
  /** Replace needs is_replace_controller and equal `split(' ')` word counts; otherwise FateZero silently refines. */
  controller: "replace" | "refine";
  wordCounts: { source: number; target: number };
  reweight: (PlannedWord & { value: number })[];
  cross: { steps: StepRange; words: (PlannedWord & { steps: StepRange })[] };
  self: { steps: StepRange };
  /** Null without blend words. Only source words form the attention-blend mask. */
  blend: {
    sourceWords: PlannedWord[];
    targetWords: string[];
    /** The mask's threshold, for self-attention and latent blending alike (what the run uses). */
    threshold: number;
    selfAttention: boolean;
    latents: boolean;
  } | null;
  /** The options the run uses. */
  spec: EditSpec;
}

/** Everything an edit run is going to do. */
export interface EditPlan {
  config: string;
  model: string;
  /** How to read a single-file model: configs from this folder (null: SD 1.x's own), EMA weights or not. */
  modelConfig: string | null;
  ema: boolean;
  video: string;
  out: string | null;
  /** Source frame indices used (FateZero's first sampling window). */
  frames: number[];
  /** Frames per UNet window: the frame count when the clip runs whole (see frameWindows). */
  frameChunk: number;
  /** [height, width] in pixels, and of the latent (pixels / the VAE factor). */
  size: [number, number];
  latentSize: [number, number];
  steps: number;
  guidanceScale: number;
  negativePrompt: NegativePrompt;
  attention: AttentionSourceMode;
  controlQueryLimit: number;
  seed: number;
  sampleSeeds: number[];
  inversionPrompt: string;
  /** Fixed-point iterations per inversion step; 0 is FateZero's plain DDIM inversion. */
  inversionIterations: number;
  /** The UNet's precision, for the inversion and every edit. */
  unetPrecision: UnetPrecision;
  unet: { selectors: FrameSelector[]; leastScChannel: number; lora: number | null };
  edits: PlannedEdit[];
  layers: AttentionLayer[];
  warnings: string[];
}

/** Resolve a config plus overrides into a plan for a model of the given shape. */
export function resolveEditPlan(cfg: FatezeroConfig, overrides: PlanOverrides, shape: ModelShape): EditPlan {
  const { unet, vaeFactor } = shape;
  const video = overrides.video ?? cfg.dataset.path;
  if (video === undefined) throw new Error(`${cfg.source}: no video: give --video or dataset_config.path`);
  const model = overrides.model ?? cfg.pretrainedModelPath;
  if (model === undefined)
    throw new Error(
      `${cfg.source}: no model: give --model (a diffusers folder, a .safetensors file, "world" or "tiny") or pretrained_model_path`,
    );
  const frameCount = optionalPositiveInt(overrides.frames, "--frames") ?? cfg.dataset.nSampleFrame;
  const frameChunk = optionalPositiveInt(overrides.frameChunk, "--frame-chunk");
  const steps = optionalPositiveInt(overrides.steps, "--steps") ?? cfg.loop.steps;
  const size = resolveSize(cfg, overrides.size, shape);
  const latentSize: [number, number] = [size[0] / vaeFactor, size[1] / vaeFactor];
  const inversionPrompt = overrides.source ?? cfg.dataset.prompt;
  const specs = applyOverrides(cfg.edits, overrides);
  return {
    config: cfg.source,
    model,
    modelConfig: overrides.modelConfig ?? null,
    ema: overrides.ema ?? false,
    video,
    out: overrides.out ?? null,
    frames: Array.from({ length: frameCount }, (_, i) => cfg.dataset.startSampleFrame + i * cfg.dataset.samplingRate),
    frameChunk: Math.min(frameChunk ?? defaultFrameChunk(frameCount, latentSize), frameCount),
    size,
    latentSize,
    steps,
    guidanceScale: overrides.guidanceScale ?? cfg.loop.guidanceScale,
    negativePrompt: overrides.negativePrompt ?? cfg.loop.negativePrompt,
    attention: cfg.loop.attention,
    controlQueryLimit: cfg.loop.controlQueryLimit,
    seed: cfg.seed,
    sampleSeeds: [...cfg.sampleSeeds],
    inversionPrompt,
    inversionIterations: iterationCount(overrides.inversionIterations) ?? FATEZERO_INVERSION_ITERATIONS,
    unetPrecision: overrides.unetPrecision ?? cfg.loop.unetPrecision,
    unet: { selectors: [...cfg.model.selectors], leastScChannel: cfg.model.leastScChannel, lora: cfg.model.lora ?? null },
    edits: specs.map((spec, index) => planEdit(spec, index, steps)),
    layers: attentionSites(unet, { latentSize, ...cfg.model, queryLimit: cfg.loop.controlQueryLimit }),
    warnings: [...cfg.warnings],
  };
}

function optionalPositiveInt(v: number | undefined, name: string): number | undefined {
  return v === undefined ? undefined : positiveInt(v, name);
}

function iterationCount(v: number | undefined): number | undefined {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0 && v <= MAX_INVERSION_ITERATIONS))
    throw new Error(`--inversion-iterations: expected an integer in 0…${MAX_INVERSION_ITERATIONS}, got ${v}`);
  return v;
}

/**
 * [H, W] from the override, the dataset's image_size or the size the model was trained at (FateZero's 512 for
 * SD 1.x, 128 for a copy of the world model), in multiples of the model's frameSizeUnit.
 */
function resolveSize(cfg: FatezeroConfig, size: PlanOverrides["size"], shape: ModelShape): [number, number] {
  const { vaeFactor } = shape;
  const levels = shape.unet.blockOutChannels.length;
  const unit = frameSizeUnit(vaeFactor, shape.unet);
  const side = cfg.dataset.imageSize ?? shape.nativeSize;
  const hw = size === undefined ? [side, side] : typeof size === "number" ? [size, size] : size;
  const origin =
    size !== undefined
      ? "--size"
      : cfg.dataset.imageSize !== undefined
        ? `${cfg.source}: dataset_config.image_size`
        : `the model's size (unet sample_size × ${vaeFactor})`;
  if (hw.length !== 2 || !hw.every((v) => Number.isInteger(v) && v >= unit && v % unit === 0)) {
    throw new Error(`${origin}: ${hw.join("×")} is not a multiple of ${unit} (the 1/${vaeFactor} latent is halved ${levels - 1} times)`);
  }
  return [hw[0], hw[1]];
}

/** The edits with the prompt and blend overrides applied (see PlanOverrides). */
function applyOverrides(edits: EditSpec[], o: PlanOverrides): EditSpec[] {
  let specs = edits.map((e) => ({ ...e, p2p: { ...e.p2p } }));
  if (o.source !== undefined) {
    const source = o.source;
    specs = specs.map((e) => ({ ...e, prompt: e.prompt === e.sourcePrompt ? source : e.prompt, sourcePrompt: source }));
  }
  if (o.target !== undefined) {
    const source = specs[0].sourcePrompt;
    specs = [
      { prompt: source, sourcePrompt: source, p2p: specs[0].p2p },
      { prompt: o.target, sourcePrompt: source, p2p: specs[1]?.p2p ?? { ...DEFAULT_P2P } },
    ];
  }
  if (o.blendWords === undefined && o.threshold === undefined) return specs;
  if (o.threshold !== undefined && !Number.isFinite(o.threshold)) throw new Error(`--threshold: expected a number, got ${o.threshold}`);
  if (o.blendWords !== undefined && (o.blendWords.length === 0 || o.blendWords.some((w) => w === "")))
    throw new Error("--blend-words: expected one or more words");
  const edited = specs.some((e) => e.prompt !== e.sourcePrompt);
  for (const e of specs) {
    if (edited && e.prompt === e.sourcePrompt) continue;
    if (o.blendWords !== undefined) {
      e.p2p.blendWords = [[...o.blendWords], []];
      e.p2p.blendSelfAttention = true;
    }
    if (o.threshold !== undefined) e.p2p.blendTh = [o.threshold, o.threshold];
  }
  return specs;
}

function planEdit(spec: EditSpec, index: number, steps: number): PlannedEdit {
  const { p2p } = spec;
  const sourceWords = spec.sourcePrompt.split(" ");
  const targetWords = spec.prompt.split(" ");
  const inSource = (word: string) => sourceWords.includes(word);
  const inTarget = (word: string) => targetWords.includes(word);
  const cross = crossStepRanges(p2p.crossReplaceSteps, steps);
  const eq = p2p.eqParams;
  return {
    index,
    prompt: spec.prompt,
    sourcePrompt: spec.sourcePrompt,
    reconstruction: spec.prompt === spec.sourcePrompt,
    controller: p2p.isReplaceController && sourceWords.length === targetWords.length ? "replace" : "refine",
    wordCounts: { source: sourceWords.length, target: targetWords.length },
    reweight: eq ? eq.words.map((word, i) => ({ word, value: eq.values[i], inPrompt: inTarget(word) })) : [],
    cross: { steps: cross.all, words: cross.words.map((w) => ({ ...w, inPrompt: inTarget(w.word) })) },
    self: { steps: selfStepRange(p2p.selfReplaceSteps, steps) },
    blend: p2p.blendWords
      ? {
          sourceWords: p2p.blendWords[0].map((word) => ({ word, inPrompt: inSource(word) })),
          targetWords: [...p2p.blendWords[1]],
          threshold: blendMaskThreshold(p2p),
          selfAttention: p2p.blendSelfAttention,
          latents: p2p.blendLatents,
        }
      : null,
    spec,
  };
}
