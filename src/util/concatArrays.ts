// Joining flat tensors along their first axis (branches of a batch, steps of a run).

/** The arrays one after another in a new Float32Array. */
export function concatArrays(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
