// Cross-attention of the source prompt along a denoising trajectory: the "reconstruction attention" the
// paper contrasts with inversion attention (Fig. 2 / the motivation). Each editing step i ran at timestep
// t_i on the latent x_i; replaying the UNet there with the source prompt gives the maps prompt-to-prompt
// would have fused, indexed like the inversion's (inversion step N−1−i ran at the same t_i).
import { unetForInversion } from "./fusedUnet";
import type { InversionRecord, LatentVideo } from "./inversionRecord";
import { encodePrompts, type FateZeroModel } from "./loadModel";
import { MapRecorder } from "./mapRecorder";

/** Maps in the inversion's layout (per inversion step index), computed on a denoising trajectory. */
export type DenoisingMaps = Pick<InversionRecord, "key" | "tokens" | "groups" | "maskMaps">;

/**
 * The source prompt's cross-attention maps on a denoising run that started from the inversion's z_T.
 * `trajectory[i]` is the latent after editing step i (editVideo's onStep); every step but the last is used.
 * `injected` are the tensors the inversion was made with, if any.
 */
export async function denoisingMaps(
  model: FateZeroModel,
  inversion: InversionRecord,
  trajectory: LatentVideo[],
  injected?: ReadonlyMap<string, Float32Array>,
): Promise<DenoisingMaps> {
  const key = inversion.key;
  const N = key.steps;
  if (trajectory.length < N - 1) throw new Error(`denoising maps: need the latents of at least ${N - 1} steps, got ${trajectory.length}`);
  const [C, F, h, w] = inversion.latentShape;
  const unet = await unetForInversion(model, key, injected);
  const maps = new MapRecorder(unet.layers, F, N, inversion.tokens, model.dims.tokens);
  const context = await encodePrompts(model, [key.prompt]); // [1, T, D]
  const scheduler = model.scheduler();
  scheduler.setTimesteps(N);
  for (let i = 0; i < N; i++) {
    const x = i === 0 ? inversion.latents[N] : trajectory[i - 1].data; // [C, F, h, w] before step i
    const out = await unet.predict({
      sample: x,
      dims: [1, C, F, h, w],
      timestep: scheduler.timesteps[i],
      context,
      maps: maps.stored,
      frameChunk: key.frameChunk,
    });
    maps.record(N - 1 - i, out.maps);
  }
  return { key, tokens: inversion.tokens, ...maps.maps };
}
