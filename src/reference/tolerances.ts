// Acceptance tolerances for reference tensors, following the fixture README's measurements of
// implementation noise (netlib vs OpenBLAS): single network passes agree to ~1e-6 relative, 10-step
// inversions to ~2e-5, CFG edits to ~1e-3, decoded frames to ±1.

/** Absolute and relative (to the reference's largest magnitude) tolerance. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

const RULES: [RegExp, Tolerance][] = [
  [/(token_ids|timesteps|refine_mapper)$/, { atol: 0, rtol: 0 }],
  [/attention_blend_mask/, { atol: 0, rtol: 0 }],
  [/controller\./, { atol: 1e-6, rtol: 0 }],
  [/frames_u8$/, { atol: 2, rtol: 0 }],
  [/inversion\.(latents|cross_attn)/, { atol: 2e-4, rtol: 0 }],
  [/\.(latents|latents_final)$/, { atol: 1e-2, rtol: 0 }],
  [/^scheduler\./, { atol: 1e-6, rtol: 0 }],
];

/** The tolerance for a reference tensor, by its name. */
export function toleranceFor(name: string): Tolerance {
  for (const [pattern, tol] of RULES) if (pattern.test(name)) return tol;
  return { atol: 1e-4, rtol: 1e-4 };
}

/** Comparison of a computed tensor with its reference. */
export interface Comparison {
  maxAbsErr: number;
  relErr: number;
  tol: number;
  ok: boolean;
}

/** Compare element-wise: ok when max |got − ref| ≤ atol + rtol·max |ref|. */
export function compare(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance): Comparison {
  if (got.length !== ref.length) return { maxAbsErr: Infinity, relErr: Infinity, tol: tol.atol, ok: false };
  let maxAbsErr = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    maxAbsErr = Number.isNaN(d) ? Infinity : Math.max(maxAbsErr, d);
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  const limit = tol.atol + tol.rtol * maxRef;
  return { maxAbsErr, relErr: maxRef > 0 ? maxAbsErr / maxRef : maxAbsErr, tol: limit, ok: maxAbsErr <= limit };
}
