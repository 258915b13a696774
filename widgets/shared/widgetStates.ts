// The contract between the kernel-side models (widgets/kernelSide/) and the frontend views (widgets/frontend/):
// model and view names, the module they live in, and the state keys of each widget. This file has no Node
// or DOM dependency, so both sides compile it. Binary values (`Binary`) travel as comm buffers: the kernel
// puts a Uint8Array/Buffer there, the frontend receives a DataView.

/** The npm-style module name the frontend registers its models and views under. */
export const MODULE_NAME = "fatezero-widgets";
/** Semver of the frontend module; the kernel sends it as `_model_module_version`. */
export const MODULE_VERSION = "0.1.0";

/** A binary value: Uint8Array/Buffer on the kernel side, DataView on the frontend. */
export type Binary = ArrayBufferView;

/** Model and view class names of one widget. */
export interface WidgetNames {
  model: string;
  view: string;
}

/** Every widget this module provides. */
export const WIDGETS = {
  frameScrubber: { model: "FrameScrubberModel", view: "FrameScrubberView" },
  crossAttentionViewer: { model: "CrossAttentionViewerModel", view: "CrossAttentionViewerView" },
  maskTuner: { model: "MaskTunerModel", view: "MaskTunerView" },
  editPanel: { model: "EditPanelModel", view: "EditPanelView" },
  vegaChart: { model: "VegaChartModel", view: "VegaChartView" },
} as const satisfies Record<string, WidgetNames>;

/** Encoded frame images of one clip (all frames of a clip share the state's mime type and size). */
export interface ClipFrames {
  /** "image/jpeg" or "image/png" */
  mime: string;
  width: number;
  height: number;
  /** One encoded image per frame. */
  frames: Binary[];
}

/** One labelled row (a clip) of the scrubber. */
export interface ScrubberRow {
  label: string;
  clip: ClipFrames;
}

/** FrameScrubber: clips side by side, labelled, with a shared frame slider, play/pause, step and fps. */
export interface FrameScrubberState {
  title: string;
  /** Shown side by side in this order (e.g. source, reconstruction, edit). */
  rows: ScrubberRow[];
  /** Number of frames every row has (rows with fewer show their last frame). */
  frame_count: number;
  /** Current frame index 0 … frame_count−1. */
  frame: number;
  playing: boolean;
  fps: number;
}

/** The CrossAttentionViewer's colour scales (see `CrossAttentionViewerState.scale`). */
export const HEAT_SCALES = ["frame", "absolute"] as const;
/** One of HEAT_SCALES. */
export type HeatScale = (typeof HEAT_SCALES)[number];

/** CrossAttentionViewer: per-token cross-attention of the cached inversion over the frames. */
export interface CrossAttentionViewerState {
  /** The tokens of the inversion prompt as chips: position 0 is <|startoftext|>, the last is <|endoftext|>. */
  tokens: string[];
  /** Selected token position. */
  token: number;
  /** Number of DDIM inversion steps; `step` is 0 … steps−1 (0 = the first, least noisy, inversion step). */
  steps: number;
  step: number;
  /** Show the average over all steps instead of one step. */
  average_steps: boolean;
  /** Layer groups, labelled like "down 32×32 · 2 layers". */
  groups: string[];
  group: number;
  /** The video frames the maps are drawn over. */
  clip: ClipFrames;
  /** Heat map of the selection: uint8 [F, map_height, map_width], each frame scaled to its own maximum (255 = `frame_max[f]`). */
  heatmap: Binary;
  map_height: number;
  map_width: number;
  /** The selection's largest attention probability in each frame. */
  frame_max: number[];
  /** The selection's largest attention probability over all frames: the top of the absolute scale. */
  heat_max: number;
  /** How the view colours the maps: "frame", each frame to its own maximum; "absolute", every frame on 0 … `heat_max`. */
  scale: HeatScale;
  /** Attention mass of the selected token per frame (mean over positions). */
  mass: number[];
}

/** MaskTuner: blend words, threshold and step windows, with an instant preview of the blend mask. */
export interface MaskTunerState {
  /** The source prompt the blend words index (FateZero `editing_prompts[0]`). */
  source_prompt: string;
  /** Its words, offered as chips. */
  words: string[];
  /** Selected blend words of the source prompt. */
  blend_words: string[];
  /** Attention-blend threshold (FateZero `blend_th[0]`), 0 … 1. */
  threshold: number;
  /** Step windows as [start, end] fractions of the editing steps. */
  self_replace_steps: [number, number];
  cross_replace_steps: [number, number];
  blend_latents: boolean;
  latent_blend_steps: [number, number];
  /** Number of editing steps; the preview shows the mask used at editing step `step` (0 … steps−1). */
  steps: number;
  step: number;
  clip: ClipFrames;
  /** The mask (1 = edit) as uint8 0/1 [F, mask_height, mask_width]; empty when there is an error. */
  mask: Binary;
  mask_height: number;
  mask_width: number;
  /** Fraction of each frame inside the mask. */
  areas: number[];
  /** Kernel milliseconds of the last preview computation. */
  preview_ms: number;
  /** Why there is no preview (e.g. a blend word not in the prompt); "" when fine. */
  error: string;
}

/** Re-weighting of one target-prompt word (FateZero `eq_params`). */
export interface EqualizerEntry {
  word: string;
  value: number;
}

/** EditPanel: the edit's prompt and controls, and a Run / Cancel that re-runs only the editing loop. */
export interface EditPanelState {
  source_prompt: string;
  prompt: string;
  /** "replace" (word swap, same word count) or "refine". */
  controller: "replace" | "refine";
  equalizer: EqualizerEntry[];
  guidance_scale: number;
  running: boolean;
  /** Steps done of `total` in the current or last run. */
  done: number;
  total: number;
  /** A one-line status ("inverted 8 frames", "editing 3/20", "done in 41.2 s", "cancelled"). */
  status: string;
  /** The last run's error; "" when none. */
  error: string;
}

/** Custom messages an EditPanel view sends to the kernel. */
export type EditPanelEvent = { event: "run" } | { event: "cancel" };

/** VegaChart: a vega-lite spec rendered in the frontend. */
export interface VegaChartState {
  /** A complete vega-lite (v5/v6) JSON spec with inline data. */
  spec: Record<string, unknown>;
}

/** The six identity keys that make the frontend instantiate a widget's model and view classes. */
export function widgetIdentity(names: WidgetNames) {
  return {
    _model_name: names.model,
    _model_module: MODULE_NAME,
    _model_module_version: MODULE_VERSION,
    _view_name: names.view,
    _view_module: MODULE_NAME,
    _view_module_version: MODULE_VERSION,
  };
}
