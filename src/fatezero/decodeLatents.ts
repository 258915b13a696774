// Latents back to frames: z / scaling factor (SD: 0.18215) through the VAE decoder a few frames at a time,
// then round(clamp(x/2 + 0.5, 0, 1)·255), as diffusers' pipelines and FateZero's logger do.
import { vaeFrameChunk } from "../networks/vae";
import { tensorToFrames } from "../video/frameTensor";
import type { LatentVideo } from "./inversionRecord";
import type { FateZeroModel } from "./loadModel";

/** Decode a latent video [C, F, h, w] to RGB frames u8 [F, H, W, 3] (H, W: the latent size times the VAE factor). */
export async function decodeLatents(model: FateZeroModel, latents: LatentVideo): Promise<Uint8Array> {
  const [L, frames, h, w] = latents.shape;
  const { data } = latents;
  if (L !== model.dims.latentChannels) throw new Error(`decode: latents have ${L} channels, the VAE takes ${model.dims.latentChannels}`);
  if (data.length !== L * frames * h * w) throw new Error(`decode: ${data.length} values is not [${L}, ${frames}, ${h}, ${w}]`);
  const [H, W] = [h * model.dims.vaeFactor, w * model.dims.vaeFactor];
  const plane = h * w;
  const inverse = Math.fround(1 / model.vae.config.scalingFactor); // diffusers multiplies by 1/scaling factor
  const out = new Uint8Array(frames * H * W * 3); // [F, H, W, 3]
  const perCall = vaeFrameChunk(H, W);
  for (let f0 = 0; f0 < frames; f0 += perCall) {
    const n = Math.min(perCall, frames - f0);
    const z = new Float32Array(n * L * plane); // [n, C, h, w]
    for (let f = 0; f < n; f++)
      for (let c = 0; c < L; c++)
        for (let i = 0; i < plane; i++) z[(f * L + c) * plane + i] = inverse * data[(c * frames + f0 + f) * plane + i];
    const images = await model.vae.decode(z, [n, L, h, w]); // [n, 3, H, W]
    out.set(tensorToFrames(images, n, H, W), f0 * H * W * 3);
  }
  return out;
}
