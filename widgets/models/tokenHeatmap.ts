// What the cross-attention viewer shows for one selection: one token's column of a group's stored maps
// (one inversion step, or the mean over steps), as a uint8 heat map per frame plus its attention mass.

/** Stored maps of one layer group: per step [F, h·w, tokens]. */
export interface GroupMaps {
  steps: Float32Array[];
  frames: number;
  height: number;
  width: number;
  tokens: number;
}

/** A token's heat map over the frames. */
export interface TokenHeatmap {
  /** uint8 [F, h, w], 255 = `max`. */
  heatmap: Uint8Array;
  /** The largest attention probability over all frames (0 when the token gets none). */
  max: number;
  /** Mean attention probability per frame. */
  mass: number[];
}

/** The attention of `token` at `step` (or the mean over steps when step is "average"): [F, h·w]. */
export function tokenAttention(g: GroupMaps, token: number, step: number | "average"): Float32Array {
  if (!Number.isInteger(token) || token < 0 || token >= g.tokens) throw new RangeError(`token ${token} is outside 0…${g.tokens - 1}`);
  const picked = step === "average" ? g.steps : [g.steps[step]];
  if (step !== "average" && !picked[0]) throw new RangeError(`step ${step} is outside 0…${g.steps.length - 1}`);
  const L = g.height * g.width;
  const out = new Float32Array(g.frames * L); // [F, h·w]
  for (const maps of picked) {
    for (let r = 0; r < out.length; r++) out[r] += maps[r * g.tokens + token];
  }
  for (let r = 0; r < out.length; r++) out[r] /= picked.length;
  return out;
}

/** Quantise a token's attention [F, h·w] to a heat map scaled by its maximum over all frames. */
export function tokenHeatmap(g: GroupMaps, token: number, step: number | "average"): TokenHeatmap {
  const a = tokenAttention(g, token, step);
  const L = g.height * g.width;
  let max = 0;
  for (const v of a) max = Math.max(max, v);
  const heatmap = new Uint8Array(a.length); // [F, h, w]
  if (max > 0) for (let i = 0; i < a.length; i++) heatmap[i] = Math.round((255 * a[i]) / max);
  const mass = Array.from({ length: g.frames }, (_, f) => {
    let s = 0;
    for (let i = 0; i < L; i++) s += a[f * L + i];
    return s / L;
  });
  return { heatmap, max, mass };
}
