// FateZero's optional latent blending (`blend_latents`, AttentionControlEdit.step_callback with a
// SpatialBlender of prompt_choose "both", start 0.2, end 0.8): after the scheduler step, outside the mask
// the edit's latents are replaced by the inverted latents. The mask is the union of the source words'
// mask on the inversion maps of the aligned step and the target words' mask on the edit's own cross-
// attention summed over the steps so far. As in FateZero, the inverted latent taken is one step noisier
// than the edit's (FateZero indexes its stored latents one ahead there), and the mask threshold is blendMaskThreshold's.
import type { InversionRecord } from "./inversionRecord";
import { blendMask } from "./blendMask";
import type { ControllerTensors } from "./controllerTensors";
import { DEFAULT_LATENT_BLEND_STEPS } from "./editOptions";

/** Latent blending state across the steps of one edit. */
export class LatentBlend {
  private editSum: Float32Array | undefined; // [F, Hm·Wm, T]
  private readonly start: number;
  private readonly end: number;

  constructor(
    private readonly controller: ControllerTensors,
    private readonly inversion: InversionRecord,
    private readonly threshold: number,
    window: [number, number] = DEFAULT_LATENT_BLEND_STEPS,
  ) {
    const N = inversion.key.steps;
    this.start = Math.floor(window[0] * N);
    this.end = Math.floor(window[1] * N);
    if (!inversion.maskMaps) throw new Error("blend_latents needs the inversion's mask maps, which this model and size do not have");
  }

  /** Add the edit branch's head-averaged mask-layer maps [F, Hm·Wm, T] of the current step. */
  accumulate(editMaps: Float32Array): void {
    if (!this.editSum) this.editSum = Float32Array.from(editMaps);
    else for (let i = 0; i < editMaps.length; i++) this.editSum[i] += editMaps[i];
  }

  /** The latents [C, F, h, w] after step i, blended with the inverted latents when i+1 lies inside (start·N, end·N). */
  apply(i: number, x: Float32Array): Float32Array {
    const counter = i + 1;
    if (!(counter > this.start && counter < this.end) || !this.editSum) return x;
    const inv = this.inversion;
    const N = inv.key.steps;
    const [C, F, h, w] = inv.latentShape;
    const mm = inv.maskMaps!;
    const T = mm.tokens;
    const alpha = this.controller.blendAlphaLayers!; // [2, T]
    const maps = (m: Float32Array) => ({ maps: m, frames: F, height: mm.height, width: mm.width, tokens: T });
    const source = blendMask(maps(mm.steps[N - 1 - i]), alpha.subarray(0, T), h, w, this.threshold); // [F, h·w]
    const target = blendMask(maps(this.editSum), alpha.subarray(T, 2 * T), h, w, this.threshold);
    const z = inv.latents[N - i]; // one step noisier than x, as FateZero indexes its latents_store
    const plane = h * w;
    const out = new Float32Array(x.length); // [C, F, h, w]
    for (let c = 0; c < C; c++) {
      for (let f = 0; f < F; f++) {
        for (let p = 0; p < plane; p++) {
          const j = (c * F + f) * plane + p;
          const m = source[f * plane + p] || target[f * plane + p] ? 1 : 0;
          out[j] = Math.fround(z[j] + Math.fround(m * Math.fround(x[j] - z[j])));
        }
      }
    }
    return out;
  }
}
