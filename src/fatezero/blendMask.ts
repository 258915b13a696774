// FateZero's self-attention blending mask (SpatialBlender.get_mask with use_pool): the source
// cross-attention of the blend words, summed over their tokens and averaged over every head of the mask
// layers, max-pooled 3×3, resized (nearest) to the controlled layer's size, divided by each frame's
// maximum and thresholded. 1 keeps the edit's self-attention, 0 takes the source's.
import { resizeMapsNearest } from "./mapLayers";

/** Source maps for one step: head-averaged [F, h·w, tokens] at size h × w. */
export interface MaskMaps {
  maps: Float32Array;
  frames: number;
  height: number;
  width: number;
  tokens: number;
}

/** Blend-word attention per frame and position before pooling: [F, h·w]. */
export function wordAttention(m: MaskMaps, alpha: Float32Array): Float32Array {
  const L = m.height * m.width;
  const out = new Float32Array(m.frames * L); // [F, h·w]
  for (let r = 0; r < m.frames * L; r++) {
    let s = 0;
    for (let t = 0; t < m.tokens; t++) s += m.maps[r * m.tokens + t] * alpha[t];
    out[r] = s;
  }
  return out;
}

/** 3×3 max-pool, stride 1, padding 1, per frame: [F, h·w] → [F, h·w]. */
export function maxPool3x3(x: Float32Array, frames: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length); // [F, h·w]
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let m = -Infinity;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xs = xx + dx;
            if (xs >= 0 && xs < w) m = Math.max(m, x[(f * h + yy) * w + xs]);
          }
        }
        out[(f * h + y) * w + xx] = m;
      }
    }
  }
  return out;
}

/** Normalised (per-frame max = 1) pooled blend-word attention at the target size: [F, H·W]. */
export function normalisedBlendMap(m: MaskMaps, alpha: Float32Array, height: number, width: number): Float32Array {
  const pooled = maxPool3x3(wordAttention(m, alpha), m.frames, m.height, m.width);
  const resized = resizeMapsNearest(pooled, m.frames, m.height, m.width, height, width, 1);
  const L = height * width;
  for (let f = 0; f < m.frames; f++) {
    let max = -Infinity;
    for (let i = 0; i < L; i++) max = Math.max(max, resized[f * L + i]);
    // No attention on the blend words (e.g. none given for the source): FateZero's 0/0 compares false.
    for (let i = 0; i < L; i++) resized[f * L + i] = max > 0 ? resized[f * L + i] / max : 0;
  }
  return resized;
}

/** The binary mask [F, H·W] (1 = edit) for threshold `th`. */
export function blendMask(m: MaskMaps, alpha: Float32Array, height: number, width: number, th: number): Float32Array {
  const n = normalisedBlendMap(m, alpha, height, width);
  return n.map((v) => (v > th ? 1 : 0));
}

/** A normalised blend map [F, L] thresholded at `th` as uint8 0/1 (1 = edit), with the fraction of each frame inside. */
export function thresholdBlendMap(normalised: Float32Array, frames: number, th: number): { mask: Uint8Array; areas: number[] } {
  const L = normalised.length / frames;
  const mask = new Uint8Array(normalised.length); // [F, L]
  const areas = new Array<number>(frames).fill(0);
  for (let f = 0; f < frames; f++) {
    let inside = 0;
    for (let i = f * L; i < (f + 1) * L; i++) inside += mask[i] = normalised[i] > th ? 1 : 0;
    areas[f] = inside / L;
  }
  return { mask, areas };
}
