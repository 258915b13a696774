// AutoencoderKL (diffusers 0.11.1) as two ONNX graphs: the encoder returns the posterior mean and std
// (logvar clamped to [-30, 20], as diffusers' DiagonalGaussianDistribution does), the decoder maps a latent back to an image in [-1, 1]
// (unclamped). Scaling by the scaling factor (SD: 0.18215) and sampling stay outside the graphs, in the pipeline.
import * as ort from "onnxruntime-node";
import { attention } from "../onnx/attention";
import { DType, Graph } from "../onnx/graph";
import { conv2d, groupNorm, linear, silu, sliceAxis } from "../onnx/layers";
import { openSession, type SessionOptions } from "../onnx/session";
import { CheckpointWeights, type WeightSource } from "../onnx/weightSource";
import { downsample, resnetBlock, spatialConv, spatialNorm, upsample, type ResnetOptions } from "./blocks";
import { vaeFactor, type VaeConfig } from "./configs";
import type { WeightSet } from "../checkpoint/weightSet";

const EPS = 1e-6;

/** Single-head spatial self-attention of the VAE mid block, under either naming scheme. */
function vaeAttention(g: Graph, x: string, prefix: string, C: number, groups: number): string {
  const legacy = g.weights.has(`${prefix}.query.weight`);
  const names = legacy ? ["query", "key", "value", "proj_attn"] : ["to_q", "to_k", "to_v", "to_out.0"];
  return g.scoped(prefix, () => {
    const h = groupNorm(g, x, `${prefix}.group_norm`, C, groups, EPS);
    const shape = g.op("Shape", [x]);
    const seq = g.op("Transpose", [g.op("Reshape", [h, g.constInt64([0, C, -1])])], { perm: [0, 2, 1] }); // [N, HW, C]
    const [q, k, v] = names.slice(0, 3).map((n) => linear(g, seq, `${prefix}.${n}`, C, C));
    const a = linear(g, attention(g, q, k, v, 1, C), `${prefix}.${names[3]}`, C, C); // [N, HW, C]
    const back = g.op("Reshape", [g.op("Transpose", [a], { perm: [0, 2, 1] }), shape]); // [N, C, H, W]
    return g.op("Add", [back, x]);
  });
}

function midBlock(g: Graph, x: string, prefix: string, C: number, groups: number, r: ResnetOptions): string {
  x = resnetBlock(g, x, `${prefix}.resnets.0`, C, C, r);
  x = vaeAttention(g, x, `${prefix}.attentions.0`, C, groups);
  return resnetBlock(g, x, `${prefix}.resnets.1`, C, C, r);
}

/** Encoder graph: sample [N, 3, H, W] in [-1, 1] → mean, std [N, latent, H/f, W/f] (f: the VAE factor). */
export function buildVaeEncoderGraph(c: VaeConfig, weights: WeightSource): Graph {
  const g = new Graph("vae_encoder", weights);
  const r: ResnetOptions = { norm: spatialNorm(g, c.normGroups, EPS), conv: spatialConv(g) };
  const blocks = c.blockOutChannels;
  let x = conv2d(
    g,
    g.input("sample", DType.float, ["batch", c.inChannels, "height", "width"]),
    "encoder.conv_in",
    c.inChannels,
    blocks[0],
    3,
  );
  let ch = blocks[0];
  blocks.forEach((out, i) => {
    for (let j = 0; j < c.layersPerBlock; j++) {
      x = resnetBlock(g, x, `encoder.down_blocks.${i}.resnets.${j}`, ch, out, r);
      ch = out;
    }
    if (i < blocks.length - 1) x = downsample(g, x, `encoder.down_blocks.${i}.downsamplers.0`, ch, 0, r.conv);
  });
  x = midBlock(g, x, "encoder.mid_block", ch, c.normGroups, r);
  x = silu(g, groupNorm(g, x, "encoder.conv_norm_out", ch, c.normGroups, EPS));
  const L = c.latentChannels;
  x = conv2d(g, x, "encoder.conv_out", ch, 2 * L, 3);
  const moments = conv2d(g, x, "quant_conv", 2 * L, 2 * L, 1); // [N, 2L, h, w]
  const logvar = g.op("Clip", [sliceAxis(g, moments, 1, L, 2 * L), g.constFloat([-30], []), g.constFloat([20], [])]);
  const std = g.op("Exp", [g.op("Mul", [logvar, g.constFloat([0.5], [])])]);
  const dims = ["batch", L, "latent_height", "latent_width"];
  g.output("mean", sliceAxis(g, moments, 1, 0, L), DType.float, dims);
  g.output("std", std, DType.float, dims);
  return g;
}

/** Decoder graph: latent [N, latent, h, w] (unscaled) → sample [N, 3, f·h, f·w]. */
export function buildVaeDecoderGraph(c: VaeConfig, weights: WeightSource): Graph {
  const g = new Graph("vae_decoder", weights);
  const r: ResnetOptions = { norm: spatialNorm(g, c.normGroups, EPS), conv: spatialConv(g) };
  const L = c.latentChannels;
  const rev = [...c.blockOutChannels].reverse();
  let x = conv2d(g, g.input("latent", DType.float, ["batch", L, "latent_height", "latent_width"]), "post_quant_conv", L, L, 1);
  x = conv2d(g, x, "decoder.conv_in", L, rev[0], 3);
  x = midBlock(g, x, "decoder.mid_block", rev[0], c.normGroups, r);
  let ch = rev[0];
  rev.forEach((out, i) => {
    for (let j = 0; j <= c.layersPerBlock; j++) {
      x = resnetBlock(g, x, `decoder.up_blocks.${i}.resnets.${j}`, ch, out, r);
      ch = out;
    }
    if (i < rev.length - 1) x = upsample(g, x, `decoder.up_blocks.${i}.upsamplers.0`, ch, r.conv);
  });
  x = silu(g, groupNorm(g, x, "decoder.conv_norm_out", ch, c.normGroups, EPS));
  g.output("sample", conv2d(g, x, "decoder.conv_out", ch, c.outChannels, 3), DType.float, ["batch", c.outChannels, "height", "width"]);
  return g;
}

/** Posterior of the encoder: both [N, latent, h, w], flattened. */
export interface Posterior {
  mean: Float32Array;
  std: Float32Array;
  dims: number[];
}

/**
 * Pixels (frames × H × W) per VAE call: one 256² frame (larger frames go one at a time). The VAE works on each
 * frame alone, so any split gives the same result; its activations (up to 512 channels at H/4 × W/4, 128 at
 * H × W: about 0.25 GB per 256² frame for SD's VAE) come on top of the resident UNet, so they are kept small.
 */
const VAE_CALL_PIXELS = 256 * 256;

/** Frames per encoder or decoder call for frames of height × width pixels (at least one). */
export function vaeFrameChunk(height: number, width: number): number {
  return Math.max(1, Math.floor(VAE_CALL_PIXELS / (height * width)));
}

/** The VAE encoder and decoder as running sessions. */
export class Vae {
  private constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    readonly config: VaeConfig,
  ) {}

  /** Build (or reuse) both graphs for these weights and open them. */
  static async load(c: VaeConfig, weights: WeightSet, options: SessionOptions = {}): Promise<Vae> {
    const encSource = new CheckpointWeights("vae", weights);
    const encGraph = buildVaeEncoderGraph(c, encSource);
    const decSource = new CheckpointWeights("vae", weights);
    const decGraph = buildVaeDecoderGraph(c, decSource);
    const [enc, dec] = await Promise.all([
      openSession(encGraph, encSource.linkedFiles(), { ...options, releaseMemory: true }),
      openSession(decGraph, decSource.linkedFiles(), { ...options, releaseMemory: true }),
    ]);
    return new Vae(enc, dec, c);
  }

  /** Image pixels per latent pixel along each side. */
  get factor(): number {
    return vaeFactor(this.config);
  }

  /** Encode images [N, 3, H, W] in [-1, 1] (H, W multiples of the factor) to the posterior. */
  async encode(images: Float32Array, dims: [number, number, number, number]): Promise<Posterior> {
    const [n, c, h, w] = dims;
    const f = this.factor;
    if (c !== this.config.inChannels || h % f || w % f)
      throw new Error(`VAE encode: expected [N, ${this.config.inChannels}, H, W] with H, W multiples of ${f}, got [${dims}]`);
    const out = await this.encoder.run({ sample: new ort.Tensor("float32", images, dims) });
    return { mean: out.mean.data as Float32Array, std: out.std.data as Float32Array, dims: [n, this.config.latentChannels, h / f, w / f] };
  }

  /** Decode unscaled latents [N, latent, h, w] to images [N, 3, factor·h, factor·w] (not clamped). */
  async decode(latents: Float32Array, dims: [number, number, number, number]): Promise<Float32Array> {
    if (dims[1] !== this.config.latentChannels)
      throw new Error(`VAE decode: expected ${this.config.latentChannels} latent channels, got ${dims[1]}`);
    const out = await this.decoder.run({ latent: new ort.Tensor("float32", latents, dims) });
    return out.sample.data as Float32Array;
  }
}
