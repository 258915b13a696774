// A trained model's probe: small fixed inputs and the PyTorch training program's outputs for them
// (train/train_world.py writes it next to the model folder). Loading the folder through the runtime and
// reproducing the probe shows the diffusers folder means to ONNX Runtime what it meant to PyTorch.
import { SafetensorsFile } from "../../src/checkpoint/safetensors";
import { loadModel } from "../../src/fatezero/loadModel";
import { Unet } from "../../src/networks/unetSession";

/** Largest |a − b| and largest |b| of two arrays. */
function compare(a: Float32Array, b: Float32Array): { maxAbsErr: number; maxAbs: number } {
  if (a.length !== b.length) throw new Error(`probe: ${a.length} values vs ${b.length}`);
  let maxAbsErr = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsErr = Math.max(maxAbsErr, Math.abs(a[i] - b[i]));
    maxAbs = Math.max(maxAbs, Math.abs(b[i]));
  }
  return { maxAbsErr, maxAbs };
}

/** Each probe output recomputed by the runtime from `modelDir`, with its error against PyTorch's. */
export async function reproduceProbe(
  modelDir: string,
  probeFile: string,
  cacheDir: string,
): Promise<Record<string, { maxAbsErr: number; maxAbs: number }>> {
  const probe = SafetensorsFile.open(probeFile);
  const get = (name: string) => probe.readFloat32(name);
  const shape = (name: string) => probe.entry(name).shape;
  const model = await loadModel(modelDir, { cacheDir });
  const T = model.dims.tokens;
  const ids = Array.from(probe.readInt64("text.ids"), Number);
  const hidden = await model.textEncoder.encode([ids.slice(0, T), ids.slice(T, 2 * T)]);
  const unet = await Unet.load(model.unetConfig, model.folder.unet.weights, { cacheDir });
  const noise = await unet.predict(get("unet.sample"), shape("unet.sample"), get("unet.timestep")[0], get("text.hidden"));
  const image = shape("vae.image") as [number, number, number, number];
  const posterior = await model.vae.encode(get("vae.image"), image);
  const latent = get("unet.sample").map((v) => v / model.vae.config.scalingFactor);
  const decoded = await model.vae.decode(latent, shape("unet.sample") as [number, number, number, number]);
  return {
    text: compare(hidden, get("text.hidden")),
    unet: compare(noise, get("unet.noise_pred")),
    vaeMean: compare(posterior.mean, get("vae.mean")),
    vaeDecoded: compare(decoded, get("vae.decoded")),
  };
}
