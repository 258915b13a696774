// The blend mask an edit would use, computed from the cached inversion's mask maps alone (no UNet): the
// same normalisedBlendMap + threshold as editVideo's self-attention blending, so what the tuner shows is
// what the edit uses. The normalised map depends only on the words and the step, so it is kept between
// threshold changes and a slider move costs one comparison per position.
import { attentionSites, inversionBuild, largestControlledSelfSize } from "../../src/fatezero/attentionSites";
import { normalisedBlendMap, thresholdBlendMap } from "../../src/fatezero/blendMask";
import type { InversionRecord } from "../../src/fatezero/inversionRecord";
import type { FateZeroModel } from "../../src/fatezero/loadModel";
import { blendWordAlpha } from "../../src/fatezero/blendWordAlpha";

/** What the preview reads of the model: its tokenizer, UNet shape and VAE factor. */
export type PreviewModel = Pick<FateZeroModel, "tokenizer" | "unetConfig" | "dims">;

/** A mask preview, or why there is none. */
export interface MaskPreview {
  /** uint8 0/1 [F, height, width] (1 = the edit's self-attention is kept); empty on error. */
  mask: Uint8Array;
  height: number;
  width: number;
  /** Fraction of each frame inside the mask. */
  areas: number[];
  error: string;
}

/** The largest self-attention size the edit controls for this inversion (the latent size when none is). */
export function controlledMaskSize(inv: InversionRecord, model: PreviewModel): [number, number] {
  const build = inversionBuild(inv.key, model.dims.vaeFactor);
  return largestControlledSelfSize(attentionSites(model.unetConfig, build)) ?? build.latentSize;
}

/** Blend-mask previews of one inversion for one source prompt, caching the normalised maps per words and step. */
export class MaskPreviewer {
  private cached: { key: string; map: Float32Array } | undefined;
  readonly size: [number, number];

  constructor(
    private readonly inversion: InversionRecord,
    private readonly model: PreviewModel,
    private readonly sourcePrompt: string,
  ) {
    this.size = controlledMaskSize(inversion, model);
  }

  /** The mask at editing step `step` (maps of inversion step N−1−step) for `words` and `threshold`. */
  preview(words: readonly string[], threshold: number, step: number): MaskPreview {
    const [height, width] = this.size;
    const F = this.inversion.key.frameCount;
    const fail = (error: string): MaskPreview => ({ mask: new Uint8Array(0), height, width, areas: new Array(F).fill(0), error });
    const mm = this.inversion.maskMaps;
    if (!mm) return fail("this inversion has no mask maps: the model has no cross-attention layer within the query limit at this size");
    const N = this.inversion.key.steps;
    if (!Number.isInteger(step) || step < 0 || step >= N) return fail(`preview step ${step} is outside 0…${N - 1}`);
    if (!Number.isFinite(threshold)) return fail(`threshold ${threshold} is not a number`);
    let alpha: Float32Array; // [T]
    try {
      alpha = blendWordAlpha(this.model.tokenizer, this.sourcePrompt, [...words]);
    } catch (e) {
      return fail(`blend ${(e as Error).message}`);
    }
    const key = JSON.stringify([words, step]);
    if (this.cached?.key !== key) {
      const maps = { maps: mm.steps[N - 1 - step], frames: F, height: mm.height, width: mm.width, tokens: mm.tokens };
      this.cached = { key, map: normalisedBlendMap(maps, alpha, height, width) }; // [F, h·w]
    }
    const { mask, areas } = thresholdBlendMap(this.cached.map, F, threshold); // mask [F, h, w]
    return { mask, height, width, areas, error: "" };
  }
}
