// A picture of what self-attention computes, for teaching: one query position attends over the key
// positions of some frames, weight ∝ exp(s · cos(q, k)). Queries and keys here are the latent pixels
// themselves (4 channels), not the UNet's learned projections, which the graph does not expose; the point is
// the pattern — similar content gets the weight — and which frames the keys come from (per-frame attention:
// the query's own frame; FateZero's sparse-causal attention: the previous and the first frame).

/** A query position in the latent grid. */
export interface LatentQuery {
  frame: number;
  y: number;
  x: number;
}

/** Attention weights [F, h·w] of `query` over the keys of `keyFrames` (other frames get 0); they sum to 1. */
export function latentSelfAttention(
  latents: Float32Array,
  frames: number,
  h: number,
  w: number,
  query: LatentQuery,
  keyFrames: number[],
  sharpness = 12,
): Float32Array {
  const L = h * w;
  const C = latents.length / (frames * L); // latents [C, F, h, w]
  const feature = (f: number, i: number) => {
    const v = Array.from({ length: C }, (_, c) => latents[(c * frames + f) * L + i]);
    const n = Math.hypot(...v) || 1;
    return v.map((x) => x / n);
  };
  const q = feature(query.frame, query.y * w + query.x);
  const out = new Float32Array(frames * L); // [F, h·w]
  let max = -Infinity;
  for (const f of keyFrames)
    for (let i = 0; i < L; i++) max = Math.max(max, (out[f * L + i] = sharpness * feature(f, i).reduce((a, k, c) => a + k * q[c], 0)));
  let sum = 0;
  for (const f of keyFrames) for (let i = 0; i < L; i++) sum += out[f * L + i] = Math.exp(out[f * L + i] - max);
  for (const f of keyFrames) for (let i = 0; i < L; i++) out[f * L + i] /= sum;
  const chosen = new Set(keyFrames);
  for (let f = 0; f < frames; f++) if (!chosen.has(f)) out.fill(0, f * L, (f + 1) * L);
  return out;
}
