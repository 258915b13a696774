// Float32 arithmetic that reproduces torch 1.13's CPU kernels bit for bit where the scheduler depends on it.
// The noise schedule feeds every DDIM step, so a one-ulp difference in a beta shifts all later
// alphas_cumprod values; emulating the kernels (not just "computing in float32") removes that drift.

const f32 = Math.fround;

/** Lanes of one Vectorized<float> in torch's AVX2 CPU kernels (the capability of common x86 builds). */
const VECTOR_LANES = 8;
/** torch's vectorized loop handles two vectors per iteration and leaves the remainder to the scalar path. */
const VECTOR_UNROLL = 2;

const bitsF32 = new Float32Array(1);
const bitsI32 = new Int32Array(bitsF32.buffer);

/** The float32 adjacent to the float32 `from`, in the direction of `toward` (which differs from `from`). */
function nextFloat32(from: number, toward: number): number {
  if (from === 0) return toward > 0 ? 2 ** -149 : -(2 ** -149);
  bitsF32[0] = from;
  // For positive floats the bit pattern grows with the value; for negative ones it shrinks.
  bitsI32[0] += toward > from === from > 0 ? 1 : -1;
  return bitsF32[0];
}

/** Correctly rounded float32 fused multiply-add a*b + c of float32 inputs (what `-mfma` builds compute). */
export function fmaF32(a: number, b: number, c: number): number {
  // A product of two float32 values has at most 48 significant bits, so it is exact in a double.
  const p = a * b;
  const s = p + c;
  // Knuth's TwoSum: s + err is exactly p + c.
  const pPart = s - c;
  const err = p - pPart + (c - (s - pPart));
  const r = f32(s);
  if (err === 0 || r === s) return r;
  // Rounding s instead of s + err only goes wrong when s sits exactly halfway between two float32 values.
  const other = nextFloat32(r, s);
  if ((r + other) / 2 !== s) return r;
  return err > 0 === other > r ? other : r;
}

/**
 * torch.linspace(start, end, steps, dtype=float32) as computed on the CPU (steps < 32768, one thread).
 * torch counts from `start` in the first half and back from `end` in the second; the vectorized path
 * fills each 8-lane vector as base + k*step from the vector's first index, the scalar tail per index.
 */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps); // shape [steps]
  if (steps === 1) {
    out[0] = f32(start);
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / f32(steps - 1));
  const halfway = Math.floor(steps / 2);
  const scalarAt = (i: number): number => (i < halfway ? fmaF32(step, f32(i), s) : fmaF32(-step, f32(steps - i - 1), e));
  const chunk = VECTOR_LANES * VECTOR_UNROLL;
  const vectorEnd = Math.floor(steps / chunk) * chunk;
  for (let base = 0; base < vectorEnd; base += VECTOR_LANES) {
    const first = scalarAt(base);
    out[base] = first;
    for (let k = 1; k < VECTOR_LANES; k++) out[base + k] = fmaF32(k, step, first);
  }
  for (let i = vectorEnd; i < steps; i++) out[i] = scalarAt(i);
  return out;
}

/** torch.cumprod of a float32 vector on the CPU: the running product is a double, each output is rounded. */
export function cumprodF32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length); // shape [values.length]
  let acc = 1;
  for (let i = 0; i < values.length; i++) {
    acc *= values[i];
    out[i] = acc;
  }
  return out;
}
