// How far a denoising run drifts from the DDIM inversion it started from. After editing step i the latent
// has the noise level of the inversion's z_{N−1−i}; with the source prompt (a reconstruction) the two would
// agree exactly if DDIM inversion were exact, so their relative L2 distance measures the inversion's error
// (and, with guidance > 1, how much classifier-free guidance pulls the reconstruction away).
import type { InversionRecord, LatentVideo } from "../../src/fatezero/inversionRecord";

/** Error of one denoising step against the inverted latent at the same noise level. */
export interface ReconstructionErrorRow {
  /** Denoising steps done (1 … N). */
  step: number;
  /** Index of the inverted latent compared against (z_{N−step}). */
  level: number;
  /** ‖x − z‖ / ‖z‖. */
  error: number;
}

/** Relative L2 error per step between a denoising trajectory (latents after each step, from editVideo's onStep) and the inversion. */
export function reconstructionErrors(inversion: Pick<InversionRecord, "latents">, trajectory: LatentVideo[]): ReconstructionErrorRow[] {
  const N = inversion.latents.length - 1;
  if (trajectory.length > N) throw new Error(`reconstruction error: ${trajectory.length} steps but the inversion has ${N}`);
  return trajectory.map(({ data: x }, i) => {
    const z = inversion.latents[N - 1 - i];
    if (x.length !== z.length) throw new Error(`reconstruction error: step ${i} has ${x.length} values, the inversion ${z.length}`);
    let diff = 0;
    let norm = 0;
    for (let j = 0; j < z.length; j++) {
      diff += (x[j] - z[j]) ** 2;
      norm += z[j] ** 2;
    }
    return { step: i + 1, level: N - 1 - i, error: Math.sqrt(diff / norm) };
  });
}
