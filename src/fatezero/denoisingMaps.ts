// Cross-attention of the source prompt along a denoising trajectory: the "reconstruction attention" the
// paper contrasts with inversion attention (Fig. 2 / the motivation). Each editing step i ran at timestep
// t_i on the latent x_i; replaying the UNet there with the source prompt gives the maps prompt-to-prompt
// would have fused, indexed like the inversion's (inversion step N−1−i ran at the same t_i).
import type { InversionRecord, LatentVideo } from "./inversionRecord";
import { averageGroup, combineMaskMaps, mapGroups, maskMapSize } from "./mapLayers";
import { fusedUnet } from "./fusedUnet";
import { encodePrompts, type FateZeroModel } from "./loadModel";
import { parseSelectors } from "../models/frameLayout";

/** Maps in the inversion's layout (per inversion step index), computed on a denoising trajectory. */
export type DenoisingMaps = Pick<InversionRecord, "key" | "tokens" | "groups" | "maskMaps">;

/**
 * The source prompt's cross-attention maps on a denoising run that started from the inversion's z_T.
 * `trajectory[i]` is the latent after editing step i (editVideo's onStep); every step but the last is used.
 */
export async function denoisingMaps(model: FateZeroModel, inversion: InversionRecord, trajectory: LatentVideo[]): Promise<DenoisingMaps> {
  const key = inversion.key;
  const N = key.steps;
  if (trajectory.length < N - 1) throw new Error(`denoising maps: need the latents of at least ${N - 1} steps, got ${trajectory.length}`);
  const [C, F, h, w] = inversion.latentShape;
  const T = model.dims.tokens;
  const unet = await fusedUnet(model, {
    latentSize: [h, w],
    selectors: parseSelectors(key.unet.selectors),
    leastScChannel: key.unet.leastScChannel,
    queryLimit: key.queryLimit,
  });
  const stored = unet.mapOutputs;
  const picks = unet.maskOutputs;
  const size = maskMapSize(picks);
  const groups = mapGroups(stored);
  const context = await encodePrompts(model, [key.prompt]); // [1, T, D]
  const scheduler = model.scheduler();
  scheduler.setTimesteps(N);
  const result: DenoisingMaps = {
    key,
    tokens: inversion.tokens,
    groups: groups.map((g) => ({ group: g.group, steps: new Array<Float32Array>(N) })),
    ...(inversion.maskMaps ? { maskMaps: { ...inversion.maskMaps, steps: new Array<Float32Array>(N) } } : {}),
  };
  for (let i = 0; i < N; i++) {
    const x = i === 0 ? inversion.latents[N] : trajectory[i - 1].data; // [C, F, h, w] before step i
    const out = await unet.predict(x, [1, C, F, h, w], scheduler.timesteps[i], context, undefined, stored, key.frameChunk);
    const maps = stored.map((l) => out.maps.get(l.name)!); // each [F, h·w, T]
    const k = N - 1 - i;
    if (result.maskMaps) result.maskMaps.steps[k] = combineMaskMaps(picks, stored, maps, 0, F, size, T);
    groups.forEach(
      (g, gi) =>
        (result.groups[gi].steps[k] = averageGroup(
          g.members.map((m) => maps[m]),
          F * g.group.height * g.group.width,
          inversion.tokens,
          T,
        )),
    );
  }
  return result;
}
