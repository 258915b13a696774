// The clean latent z0 of a clip: scaling factor (SD: 0.18215) · (mean + std · eps) from the VAE posterior.
// The mean (eps = 0) is the deterministic default; FateZero samples with torch's global RNG, so a seeded
// draw or an explicit eps (the fixture's `posterior_eps`) can be given instead.
import { vaeFrameChunk } from "../networks/vae";
import type { LatentVideo } from "./inversionRecord";
import type { FateZeroModel } from "./loadModel";

/** How to draw z0 from the posterior. */
export type PosteriorChoice = { mode: "mean" } | { mode: "sample"; seed: number } | { mode: "eps"; eps: Float32Array };

/** Encode images [F, 3, H, W] to z0 in the video UNet's layout [C, F, h, w]. */
export async function encodeLatents(
  model: FateZeroModel,
  images: Float32Array,
  dims: [number, number, number, number],
  choice: PosteriorChoice,
): Promise<LatentVideo> {
  const [F, C, H, W] = dims;
  const { latentChannels: L, vaeFactor } = model.dims;
  const [h, w] = [H / vaeFactor, W / vaeFactor];
  const plane = h * w;
  const scale = model.vae.config.scalingFactor;
  const eps = choice.mode === "eps" ? choice.eps : choice.mode === "sample" ? gaussian(F * L * plane, choice.seed) : undefined;
  if (eps && eps.length !== F * L * plane) throw new Error(`posterior eps has ${eps.length} values, expected ${F}×${L}×${plane}`);
  const z = new Float32Array(L * F * plane); // [C, F, h, w]
  const perCall = vaeFrameChunk(H, W);
  for (let f0 = 0; f0 < F; f0 += perCall) {
    const n = Math.min(perCall, F - f0);
    const p = await model.vae.encode(images.subarray(f0 * C * H * W, (f0 + n) * C * H * W), [n, C, H, W]); // [n, C, h, w]
    for (let f = 0; f < n; f++) {
      for (let c = 0; c < L; c++) {
        for (let i = 0; i < plane; i++) {
          const src = (f * L + c) * plane + i;
          const e = eps ? eps[((f0 + f) * L + c) * plane + i] : 0;
          z[(c * F + f0 + f) * plane + i] = Math.fround(scale * Math.fround(p.mean[src] + Math.fround(p.std[src] * e)));
        }
      }
    }
  }
  return { data: z, shape: [L, F, h, w] };
}

/** Deterministic N(0, 1) draws (xorshift128+ and Box-Muller) for a seeded posterior sample. */
export function gaussian(count: number, seed: number): Float32Array {
  let s0 = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 1n);
  let s1 = BigInt.asUintN(64, s0 ^ 0xbf58476d1ce4e5b9n);
  const next = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x = BigInt.asUintN(64, x ^ (x << 23n));
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number(BigInt.asUintN(53, s1 + y)) / 2 ** 53;
  };
  const out = new Float32Array(count); // [count]
  for (let i = 0; i < count; i += 2) {
    const u = Math.max(next(), Number.MIN_VALUE);
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < count) out[i + 1] = r * Math.sin(a);
  }
  return out;
}
