// Picking what to draw out of stored cross-attention maps [F, L, T]: the attention of some tokens.

/** Sum of the columns `positions` of maps [F, L, T]: the tokens' attention per frame and position, [F, L]. */
export function tokenMap(maps: Float32Array, tokens: number, positions: number[]): Float32Array {
  const rows = maps.length / tokens;
  const out = new Float32Array(rows); // [F, L]
  for (let r = 0; r < rows; r++) for (const p of positions) out[r] += maps[r * tokens + p];
  return out;
}
