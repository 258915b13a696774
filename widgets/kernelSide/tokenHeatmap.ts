// Token attention read from stored cross-attention maps [F, L, T], and what the cross-attention viewer
// shows for one selection: a token's map (one step, or the mean over steps) as uint8 per frame, and its mass.

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
  /** uint8 [F, h, w], each frame scaled to its own maximum: 255 = `frameMax[f]`. */
  heatmap: Uint8Array;
  /** The largest attention probability of each frame (0 where the token gets none). */
  frameMax: number[];
  /** The largest attention probability over all frames (0 when the token gets none). */
  max: number;
  /** Mean attention probability per frame. */
  mass: number[];
}

/** Sum of the columns `positions` of maps [F, L, T]: the tokens' attention per frame and position, [F, L]. */
export function tokenMap(maps: Float32Array, tokens: number, positions: number[]): Float32Array {
  const rows = maps.length / tokens;
  const out = new Float32Array(rows); // [F, L]
  for (let r = 0; r < rows; r++) for (const p of positions) out[r] += maps[r * tokens + p];
  return out;
}

/** The attention of `token` at `step` (or the mean over steps when step is "average"): [F, h·w]. */
export function tokenAttention(g: GroupMaps, token: number, step: number | "average"): Float32Array {
  if (!Number.isInteger(token) || token < 0 || token >= g.tokens) throw new RangeError(`token ${token} is outside 0…${g.tokens - 1}`);
  const picked = step === "average" ? g.steps : [g.steps[step]];
  if (step !== "average" && !picked[0]) throw new RangeError(`step ${step} is outside 0…${g.steps.length - 1}`);
  const out = new Float32Array(g.frames * g.height * g.width); // [F, h·w]
  for (const maps of picked) {
    const column = tokenMap(maps, g.tokens, [token]);
    for (let r = 0; r < out.length; r++) out[r] += column[r];
  }
  for (let r = 0; r < out.length; r++) out[r] /= picked.length;
  return out;
}

/**
 * Quantise a token's attention [F, h·w] to a heat map, each frame scaled by its own maximum: a frame where the
 * token gets little attention keeps its full 8-bit detail, and `frameMax` lets a view redraw it on a clip-wide scale.
 */
export function tokenHeatmap(g: GroupMaps, token: number, step: number | "average"): TokenHeatmap {
  const a = tokenAttention(g, token, step);
  const L = g.height * g.width;
  const heatmap = new Uint8Array(a.length); // [F, h, w]
  const frameMax: number[] = [];
  const mass: number[] = [];
  for (let f = 0; f < g.frames; f++) {
    const frame = a.subarray(f * L, (f + 1) * L);
    let [top, sum] = [0, 0];
    for (const v of frame) [top, sum] = [Math.max(top, v), sum + v];
    if (top > 0) for (let i = 0; i < L; i++) heatmap[f * L + i] = Math.round((255 * frame[i]) / top);
    frameMax.push(top);
    mass.push(sum / L);
  }
  return { heatmap, frameMax, max: Math.max(0, ...frameMax), mass };
}
