// Latents back to frames: z / 0.18215 through the VAE decoder in chunks of 16 frames, then
// round(clamp(x/2 + 0.5, 0, 1)·255) (pitfall 22).
import { tensorToFrames } from "../video/frameTensor";
import type { FateZeroModel } from "./loadModel";

/** Frames decoded per VAE call, as FateZero does. */
const DECODE_CHUNK = 16;

/** Decode latents [4, F, h, w] (the video UNet's layout) to RGB frames u8 [F, 8h, 8w, 3]. */
export async function decodeVideo(model: FateZeroModel, latents: Float32Array, frames: number, h: number, w: number): Promise<Uint8Array> {
  const L = model.vae.config.latentChannels;
  const plane = h * w;
  if (latents.length !== L * frames * plane) throw new Error(`decode: ${latents.length} values is not [${L}, ${frames}, ${h}, ${w}]`);
  const inverse = Math.fround(1 / model.vae.config.scalingFactor); // diffusers multiplies by 1/0.18215
  const out = new Uint8Array(frames * 64 * plane * 3); // [F, 8h, 8w, 3]
  for (let f0 = 0; f0 < frames; f0 += DECODE_CHUNK) {
    const n = Math.min(DECODE_CHUNK, frames - f0);
    const z = new Float32Array(n * L * plane); // [n, 4, h, w]
    for (let f = 0; f < n; f++) for (let c = 0; c < L; c++) for (let i = 0; i < plane; i++) z[(f * L + c) * plane + i] = inverse * latents[(c * frames + f0 + f) * plane + i];
    const images = await model.vae.decode(z, [n, L, h, w]); // [n, 3, 8h, 8w]
    out.set(tensorToFrames(images, n, 8 * h, 8 * w), f0 * 64 * plane * 3);
  }
  return out;
}
