// DDIM inversion of a clip (clean → noise) with the source prompt, conditional branch only, keeping
// every latent and the head-averaged source cross-attention maps (FateZero's
// `prepare_latents_ddim_inverted` / `ddim_clean2noisy_loop`): no classifier-free guidance, and step k
// evaluates the UNet at the k-th of the reversed timesteps on z_k. Optionally each step is refined by
// fixed-point iterations (docs/method.md, "Fixed-point inversion").
import * as crypto from "node:crypto";
import type { FrameSelector } from "../networks/frameLayout";
import type { AttentionLayer } from "./attentionSites";
import { CONTROL_QUERY_LIMIT, DEFAULT_INFLATION, DEFAULT_UNET_PRECISION, UNET_PRECISIONS, type UnetPrecision } from "./editOptions";
import { unetForInversion } from "./fusedUnet";
import { encodePrompts, frameSizeUnit, type FateZeroModel } from "./loadModel";
import { injectedHash } from "./injectedHash";
import { framesToTensor } from "../video/frameTensor";
import type { InversionCache } from "./inversionCache";
import type { InversionKey, InversionRecord } from "./inversionRecord";
import { MapRecorder } from "./mapRecorder";
import { encodeLatents, type PosteriorChoice } from "./encodeLatents";
import { checkFrameChunk, defaultFrameChunk } from "./frameWindows";

/** What to invert and how. */
export interface InversionRequest {
  /** RGB frames u8 [F, H, W, 3]. */
  frames: Uint8Array;
  frameCount: number;
  height: number;
  width: number;
  prompt: string;
  steps: number;
  selectors?: FrameSelector[];
  leastScChannel?: number;
  posterior?: PosteriorChoice;
  /** Largest per-frame query count of stored (and later controlled) layers; default CONTROL_QUERY_LIMIT. */
  queryLimit?: number;
  /** Tensors injected into the UNet (FateZero's random temporal biases, for reproducing its outputs). */
  injected?: ReadonlyMap<string, Float32Array>;
  /** Frames per UNet window of a long clip; default `defaultFrameChunk` (the whole clip up to WHOLE_CLIP_FRAMES). */
  frameChunk?: number;
  /** Fixed-point iterations per inversion step, one UNet call each; default FATEZERO_INVERSION_ITERATIONS (plain DDIM). */
  inversionIterations?: number;
  /** The UNet's precision, for the inversion and every edit of it; default DEFAULT_UNET_PRECISION. */
  unetPrecision?: UnetPrecision;
}

/** FateZero's inversion: plain DDIM, each step taken with the noise predicted on the latent it starts from. */
export const FATEZERO_INVERSION_ITERATIONS = 0;

/** Progress, cancellation, caching and raw per-layer maps. */
export interface InversionOptions {
  cache?: InversionCache;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Receives, per step, every stored layer's head-averaged map [F, h·w, T] (bypasses the cache). */
  onLayerMaps?: (step: number, layers: { layer: AttentionLayer; maps: Float32Array }[]) => void;
}

/** The cache key of a request. */
export function inversionKey(model: FateZeroModel, r: InversionRequest): InversionKey {
  const posterior = r.posterior ?? { mode: "mean" };
  const factor = model.dims.vaeFactor;
  const frameChunk = checkFrameChunk(r.frameChunk ?? defaultFrameChunk(r.frameCount, [r.height / factor, r.width / factor]));
  const iterations = r.inversionIterations ?? FATEZERO_INVERSION_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 0)
    throw new Error(`inversion: inversionIterations must be a non-negative integer, got ${iterations}`);
  const precision = r.unetPrecision ?? DEFAULT_UNET_PRECISION;
  if (!UNET_PRECISIONS.includes(precision))
    throw new Error(`inversion: unetPrecision must be one of ${UNET_PRECISIONS.join(", ")}, got ${precision}`);
  return {
    model: model.identity,
    frames: crypto.createHash("sha256").update(r.frames).digest("hex"),
    frameCount: r.frameCount,
    height: r.height,
    width: r.width,
    prompt: r.prompt,
    steps: r.steps,
    unet: {
      selectors: r.selectors ?? [...DEFAULT_INFLATION.selectors],
      leastScChannel: r.leastScChannel ?? DEFAULT_INFLATION.leastScChannel,
      subfolder: model.unetSubfolder,
    },
    posterior:
      posterior.mode === "eps"
        ? {
            mode: "eps",
            hash: crypto
              .createHash("sha256")
              .update(new Uint8Array(posterior.eps.buffer, posterior.eps.byteOffset, posterior.eps.byteLength))
              .digest("hex"),
          }
        : posterior,
    queryLimit: r.queryLimit ?? CONTROL_QUERY_LIMIT,
    ...(r.injected && r.injected.size > 0 ? { injected: injectedHash(r.injected) } : {}),
    ...(frameChunk < r.frameCount ? { frameChunk } : {}),
    // Absent for plain DDIM, so FateZero's inversions keep the cache ids they always had.
    ...(iterations > FATEZERO_INVERSION_ITERATIONS ? { inversionIterations: iterations } : {}),
    // Likewise absent for float32.
    ...(precision === "int8" ? { unetPrecision: precision } : {}),
  };
}

/** Invert a clip, or load the matching inversion from the cache. */
export async function invertVideo(model: FateZeroModel, r: InversionRequest, options: InversionOptions = {}): Promise<InversionRecord> {
  const key = inversionKey(model, r);
  if (options.cache && !options.onLayerMaps) {
    const cached = options.cache.load(key);
    if (cached) return cached;
  }
  const { frameCount: F, height: H, width: W } = r;
  const multiple = frameSizeUnit(model.dims.vaeFactor, model.unetConfig);
  if (H % multiple || W % multiple) throw new Error(`inversion: frame size ${H}×${W} (height × width) must be a multiple of ${multiple}`);

  // 1. z0 from the VAE posterior, in the video UNet's layout [C, F, h, w].
  const z0 = await encodeLatents(model, framesToTensor(r.frames, F, H, W), [F, 3, H, W], r.posterior ?? { mode: "mean" });
  const [C, , h, w] = z0.shape;

  // 2. The video UNet of the key (the edit graph, run with neutral controls), whose extra outputs are the
  //    head-averaged cross-attention maps of the stored layers.
  const unet = await unetForInversion(model, key, r.injected);

  // 3. What is kept per step: every latent, and the stored layers' maps in the record's layout.
  const context = await encodePrompts(model, [r.prompt]); // [1, T, D]
  const T = model.dims.tokens;
  const tokens = Math.min(T, model.tokenizer.tokenize(r.prompt).length);
  const maps = new MapRecorder(unet.layers, F, r.steps, tokens, T);
  const record: InversionRecord = { key, latents: [z0.data], latentShape: z0.shape, tokens, ...maps.maps };

  // 4. DDIM inversion over the reversed timesteps. Step k maps z_k to z_{k+1} with the noise predicted at t_k;
  //    exact inversion needs that noise on z_{k+1} itself (the edit's denoising step at t_k reads it there),
  //    so each fixed-point iteration re-predicts it on the current estimate of z_{k+1} (AIDI, ReNoise).
  const scheduler = model.scheduler();
  scheduler.setTimesteps(r.steps);
  const timesteps = scheduler.inversionTimesteps();
  const dims: [number, number, number, number, number] = [1, C, F, h, w];
  let z = z0.data;
  for (let k = 0; k < r.steps; k++) {
    if (options.signal?.aborted) throw new Error("inversion cancelled");
    const t = timesteps[k];
    // The maps come from z_k, the stored latent the edit's source branch replays at t_k, so the cached maps
    // (and the blend masks made from them) are exactly that branch's.
    const out = await unet.predict({ sample: z, dims, timestep: t, context, maps: maps.stored, frameChunk: key.frameChunk });
    options.onLayerMaps?.(
      k,
      maps.stored.map((layer) => ({ layer, maps: out.maps.get(layer.module)! })),
    );
    maps.record(k, out.maps);
    let next = scheduler.invertStep(out.noise, t, z); // [C, F, h, w]
    for (let j = 0; j < (key.inversionIterations ?? FATEZERO_INVERSION_ITERATIONS); j++) {
      if (options.signal?.aborted) throw new Error("inversion cancelled");
      const refined = await unet.predict({ sample: next, dims, timestep: t, context, frameChunk: key.frameChunk });
      next = scheduler.invertStep(refined.noise, t, z);
    }
    z = next;
    record.latents.push(z);
    options.onProgress?.(k + 1, r.steps);
  }
  if (options.cache) options.cache.save(record);
  return record;
}
