// Kernel side of the MaskTuner: blend words, threshold and step windows, with a live preview of the blend
// mask from the cached inversion (MaskPreviewer) and the p2p options they make for the next edit.
import { z } from "zod";
import { STEP_WINDOW } from "../../src/config/values";
import type { InversionRecord } from "../../src/fatezero/inversionRecord";
import { DEFAULT_LATENT_BLEND_STEPS, DEFAULT_P2P, type P2pOptions } from "../../src/fatezero/editOptions";
import { crossWindows, windowBounds } from "../../src/fatezero/stepWindows";
import type { VideoClip } from "../../src/video/readVideo";
import type { WidgetState } from "../comm/protocol";
import { indexBelow, WidgetModel, type FrontendKeys, type WidgetModelOptions } from "../comm/widgetModel";
import { WIDGETS, type MaskTunerState, widgetIdentity } from "../shared/widgetStates";
import { clipImages, type ClipImageOptions } from "./clipImages";
import { MaskPreviewer, type PreviewModel } from "./maskPreview";

/** Options of a tuner; unset controls start at FateZero's defaults. */
export interface MaskTunerOptions extends WidgetModelOptions {
  /** The prompt the blend words index (FateZero `editing_prompts[0]`; default: the inversion prompt). */
  sourcePrompt?: string;
  blendWords?: string[];
  threshold?: number;
  selfReplaceSteps?: [number, number];
  crossReplaceSteps?: [number, number];
  blendLatents?: boolean;
  latentBlendSteps?: [number, number];
  image?: ClipImageOptions;
}

/** The p2p controls a tuner sets (the target prompt's blend words come from the edit). */
export type TunedP2p = Pick<
  P2pOptions,
  "blendTh" | "selfReplaceSteps" | "crossReplaceSteps" | "blendSelfAttention" | "blendLatents" | "latentBlendSteps"
>;

const PREVIEW_KEYS = ["blend_words", "threshold", "step"] as const;

/** The mask threshold: the slider's range (a config's blend_th, like FateZero's, may be any number). */
const THRESHOLD = z.number().min(0).max(1);

/** What a view may set: the controls (words of the source prompt, fractions, a step of the edit). */
const FRONTEND_KEYS: FrontendKeys<MaskTunerState> = (s) => ({
  blend_words: z.array(z.string().refine((w) => s.words.includes(w), "not a word of the source prompt")).max(s.words.length),
  threshold: THRESHOLD,
  self_replace_steps: STEP_WINDOW.schema,
  cross_replace_steps: STEP_WINDOW.schema,
  blend_latents: z.boolean(),
  latent_blend_steps: STEP_WINDOW.schema,
  step: indexBelow(s.steps),
});

/** Blend-mask controls with an instant preview over the frames. */
export class MaskTuner extends WidgetModel<MaskTunerState & WidgetState> {
  private previewer!: MaskPreviewer;

  /** Open a tuner over `clip` (the inverted frames) using `inversion`'s cached mask maps. */
  static async create(
    inversion: InversionRecord,
    model: PreviewModel,
    clip: VideoClip,
    options: MaskTunerOptions = {},
  ): Promise<MaskTuner> {
    const sourcePrompt = options.sourcePrompt ?? inversion.key.prompt;
    const previewer = new MaskPreviewer(inversion, model, sourcePrompt);
    const blendWords = options.blendWords ?? [];
    const threshold = options.threshold ?? DEFAULT_P2P.blendTh[0];
    const first = previewer.preview(blendWords, threshold, 0);
    const tuner = new MaskTuner(
      {
        ...widgetIdentity(WIDGETS.maskTuner),
        source_prompt: sourcePrompt,
        words: sourcePrompt.split(" ").filter((w) => w !== ""),
        blend_words: blendWords,
        threshold,
        self_replace_steps: options.selfReplaceSteps ?? windowBounds(DEFAULT_P2P.selfReplaceSteps, "selfReplaceSteps"),
        cross_replace_steps:
          options.crossReplaceSteps ?? windowBounds(crossWindows(DEFAULT_P2P.crossReplaceSteps).all, "crossReplaceSteps"),
        blend_latents: options.blendLatents ?? DEFAULT_P2P.blendLatents,
        latent_blend_steps: options.latentBlendSteps ?? DEFAULT_LATENT_BLEND_STEPS,
        steps: inversion.key.steps,
        step: 0,
        clip: await clipImages(clip, options.image),
        ...previewState(first, 0),
      },
      { ...options, noEcho: ["mask", "clip", ...(options.noEcho ?? [])], frontendKeys: FRONTEND_KEYS },
    );
    tuner.previewer = previewer;
    for (const key of PREVIEW_KEYS) tuner.onChange(key, () => tuner.refresh());
    return tuner;
  }

  /** Recompute the preview for the current words, threshold and step (runs on every change of them). */
  refresh(): void {
    const start = performance.now();
    const p = this.previewer.preview(this.get("blend_words"), this.get("threshold"), this.get("step"));
    this.update(previewState(p, performance.now() - start));
  }

  /** The source-prompt blend words currently selected. */
  blendWords(): string[] {
    return this.get("blend_words").slice();
  }

  /** The p2p controls for the next edit; throws when the preview reports an error (e.g. a word not in the prompt). */
  p2p(): TunedP2p {
    const error = this.get("error");
    if (error) throw new Error(error);
    const th = this.get("threshold");
    return {
      blendTh: [th, th],
      selfReplaceSteps: this.get("self_replace_steps"),
      crossReplaceSteps: this.get("cross_replace_steps"),
      blendSelfAttention: this.get("blend_words").length > 0,
      blendLatents: this.get("blend_latents"),
      latentBlendSteps: this.get("latent_blend_steps"),
    };
  }
}

function previewState(p: ReturnType<MaskPreviewer["preview"]>, ms: number) {
  return {
    mask: p.mask,
    mask_height: p.height,
    mask_width: p.width,
    areas: p.areas,
    error: p.error,
    preview_ms: Math.round(ms * 1000) / 1000,
  };
}
