// UNet2DConditionModel (diffusers 0.11.1) as an ONNX graph, and FateZero's inflated video UNet
// (UNetPseudo3DConditionModel) from the same weights: frames are folded into the batch, self-attention
// becomes sparse-causal in blocks with at least `leastScChannel` channels, every 3×3 convolution is
// followed by the checkpoint's temporal convolution when it has one, and temporal attention follows
// each transformer block. Without temporal weights the inflation is the identity.
import { DType, Graph } from "../onnx/graph";
import { conv2d, groupNorm, linear, silu } from "../onnx/layers";
import type { WeightSource } from "../onnx/weightSource";
import { downsample, resnetBlock, spatialConv, spatialNorm, upsample, type ConvFn, type NormFn, type ResnetOptions } from "./blocks";
import type { UnetConfig } from "./configs";
import { frameContext, imagesToTemporal, imagesToClip, type FrameContext, type FrameSelector } from "./frameLayout";
import { transformer2d, transformerSites, type AttentionHook, type AttentionSite, type TransformerPlace } from "./unetTransformer";

/** How to inflate the UNet over frames (FateZero `model_config`). */
export interface VideoUnetOptions {
  /** Key frames of sparse-causal attention (FateZero's default: DEFAULT_INFLATION, src/fatezero/editOptions.ts). */
  selectors: FrameSelector[];
  /** Blocks with fewer channels keep per-frame self-attention. */
  leastScChannel: number;
}

/** Options for building a UNet graph. */
export interface UnetGraphOptions {
  /** Present for the inflated video UNet: input [B, C, F, h, w]; absent for the image UNet [B, C, h, w]. */
  video?: VideoUnetOptions;
  /** Build for this latent size [h, w] (lets attention hooks know each layer's query count). */
  latentSize?: [number, number];
  onAttention?: AttentionHook;
  /** Compute self-attention one head at a time (default; see TransformerOptions). */
  perHeadSelfAttention?: boolean;
}

/** The parts of a UNet config that place its attention blocks. */
export type UnetShape = Pick<
  UnetConfig,
  "inChannels" | "blockOutChannels" | "downBlockTypes" | "upBlockTypes" | "layersPerBlock" | "heads"
>;

/** The UNet's transformer blocks in forward order (cross-attention down blocks, mid block, cross-attention up blocks). */
export function unetTransformers(c: UnetShape): TransformerPlace[] {
  const levels = c.blockOutChannels.length;
  for (const [name, list] of [
    ["down_block_types", c.downBlockTypes],
    ["up_block_types", c.upBlockTypes],
    ["attention_head_dim", c.heads],
  ] as const) {
    if (list.length !== levels) throw new Error(`UNet config: ${name} has ${list.length} entries for ${levels} levels`);
  }
  const block = (prefix: string, place: TransformerPlace["place"], level: number): TransformerPlace => ({
    prefix,
    place,
    level,
    channels: c.blockOutChannels[level],
    heads: c.heads[level],
  });
  const out: TransformerPlace[] = [];
  c.downBlockTypes.forEach((type, level) => {
    if (type !== "CrossAttnDownBlock2D") return;
    for (let j = 0; j < c.layersPerBlock; j++) out.push(block(`down_blocks.${level}.attentions.${j}`, "down", level));
  });
  out.push(block("mid_block.attentions.0", "mid", levels - 1));
  c.upBlockTypes.forEach((type, i) => {
    if (type !== "CrossAttnUpBlock2D") return;
    for (let j = 0; j <= c.layersPerBlock; j++) out.push(block(`up_blocks.${i}.attentions.${j}`, "up", levels - 1 - i));
  });
  return out;
}

/** Frames a transformer's self-attention reads keys from: the video's selectors in blocks of at least leastScChannel channels. */
function keySelectors(t: TransformerPlace, video: VideoUnetOptions | undefined): FrameSelector[] {
  return video && t.channels >= video.leastScChannel ? video.selectors : [];
}

/** Every attention layer of the UNet in forward order (each transformer's self, then cross), as `buildUnetGraph` builds them. */
export function unetAttentionSites(c: UnetShape, latentSize?: [number, number], video?: VideoUnetOptions): AttentionSite[] {
  return unetTransformers(c).flatMap((t) => transformerSites(t, latentSize, keySelectors(t, video)));
}

/** Sinusoidal timestep frequencies exp(−ln(10⁴)·i/(half − shift)), rounded to float32 as torch computes them. */
export function timestepFrequencies(channels: number, shift: number): Float32Array {
  const half = Math.floor(channels / 2);
  const out = new Float32Array(half); // [half]
  for (let i = 0; i < half; i++) out[i] = Math.exp(Math.fround(Math.fround(-Math.log(10000) * i) / (half - shift)));
  return out;
}

/** Graph inputs: sample, timestep float [1], encoder_hidden_states [B, T, D]; output noise_pred shaped like sample. */
export function buildUnetGraph(c: UnetConfig, weights: WeightSource, options: UnetGraphOptions = {}): Graph {
  const video = options.video;
  const g = new Graph(video ? "unet_video" : "unet", weights);
  const C0 = c.blockOutChannels[0];
  const sampleDims = video ? ["batch", c.inChannels, "frames", "height", "width"] : ["batch", c.inChannels, "height", "width"];
  const sample = g.input("sample", DType.float, sampleDims);
  const timestep = g.input("timestep", DType.float, [1]);
  let context = g.input("encoder_hidden_states", DType.float, ["batch", "tokens", c.crossAttentionDim]);

  let x = sample;
  let ctx: FrameContext | undefined;
  if (video) {
    const frames = g.op("Slice", [g.op("Shape", [sample]), g.constInt64([2]), g.constInt64([3])]); // [1]
    ctx = frameContext(g, frames, video.selectors);
    x = foldFrames(g, sample, c.inChannels); // [(B·F), C, h, w]
    context = repeatPerFrame(g, context, frames, c.crossAttentionDim); // [(B·F), T, D]
  }
  const conv = ctx ? pseudo3dConv(g, ctx) : spatialConv(g);
  const norm = ctx ? clipNorm(g, ctx, c.normGroups, c.normEps) : spatialNorm(g, c.normGroups, c.normEps);

  // Time embedding: [cos | sin] (flip_sin_to_cos) of t·freqs, then linear → SiLU → linear.
  const freqs = g.constFloat(timestepFrequencies(C0, c.freqShift), [1, C0 / 2]);
  const args = g.op("Mul", [g.op("Unsqueeze", [timestep, g.constInt64([1])]), freqs]); // [1, C0/2]
  const [sin, cos] = [g.op("Sin", [args]), g.op("Cos", [args])];
  const tProj = g.op("Concat", c.flipSinToCos ? [cos, sin] : [sin, cos], { axis: 1 }); // [1, C0]
  const T = 4 * C0;
  const temb = linear(g, silu(g, linear(g, tProj, "time_embedding.linear_1", C0, T)), "time_embedding.linear_2", T, T); // [1, T]
  const r: ResnetOptions = { norm, conv, temb: { value: temb, channels: T } };
  // Where transformer blocks go is decided once, by unetTransformers: a block is built where the next one sits.
  const places = unetTransformers(c);
  const transformer = (v: string, prefix: string): string => {
    if (places[0]?.prefix !== prefix) return v;
    const p = places.shift()!;
    const [self, cross] = transformerSites(p, options.latentSize, keySelectors(p, video));
    return transformer2d(g, v, prefix, {
      self,
      cross,
      crossDim: c.crossAttentionDim,
      groups: c.normGroups,
      linearProjection: c.useLinearProjection,
      context,
      video: ctx,
      onAttention: options.onAttention,
      perHeadSelfAttention: options.perHeadSelfAttention,
    });
  };

  x = conv(x, "conv_in", c.inChannels, C0, 3);
  const skips: { value: string; channels: number }[] = [{ value: x, channels: C0 }];
  let ch = C0;
  const levels = c.blockOutChannels.length;
  c.blockOutChannels.forEach((out, i) => {
    for (let j = 0; j < c.layersPerBlock; j++) {
      x = resnetBlock(g, x, `down_blocks.${i}.resnets.${j}`, ch, out, r);
      ch = out;
      x = transformer(x, `down_blocks.${i}.attentions.${j}`);
      skips.push({ value: x, channels: ch });
    }
    if (i < levels - 1) {
      x = downsample(g, x, `down_blocks.${i}.downsamplers.0`, ch, c.downsamplePadding, conv);
      skips.push({ value: x, channels: ch });
    }
  });

  x = resnetBlock(g, x, "mid_block.resnets.0", ch, ch, r);
  x = transformer(x, "mid_block.attentions.0");
  x = resnetBlock(g, x, "mid_block.resnets.1", ch, ch, r);

  const rev = [...c.blockOutChannels].reverse();
  rev.forEach((out, i) => {
    for (let j = 0; j <= c.layersPerBlock; j++) {
      const skip = skips.pop()!;
      x = g.op("Concat", [x, skip.value], { axis: 1 });
      x = resnetBlock(g, x, `up_blocks.${i}.resnets.${j}`, ch + skip.channels, out, r);
      ch = out;
      x = transformer(x, `up_blocks.${i}.attentions.${j}`);
    }
    if (i < levels - 1) x = upsample(g, x, `up_blocks.${i}.upsamplers.0`, ch, conv);
  });

  if (places.length > 0) throw new Error(`UNet graph: transformer ${places[0].prefix} has no place in the block walk`);
  x = silu(g, norm(x, "conv_norm_out", ch));
  x = conv(x, "conv_out", ch, c.outChannels, 3);
  g.output("noise_pred", ctx ? unfoldFrames(g, x, ctx, c.outChannels) : x, DType.float, sampleDims);
  return g;
}

/** [B, C, F, h, w] → [(B·F), C, h, w]. */
function foldFrames(g: Graph, x: string, channels: number): string {
  const t = g.op("Transpose", [x], { perm: [0, 2, 1, 3, 4] }); // [B, F, C, h, w]
  const hw = g.op("Slice", [g.op("Shape", [x]), g.constInt64([3]), g.constInt64([5])]);
  return g.op("Reshape", [t, g.op("Concat", [g.constInt64([-1, channels]), hw], { axis: 0 })]);
}

/** [(B·F), C, h, w] → [B, C, F, h, w]. */
function unfoldFrames(g: Graph, x: string, ctx: FrameContext, channels: number): string {
  const hw = g.op("Slice", [g.op("Shape", [x]), g.constInt64([2]), g.constInt64([4])]);
  // [B, F, C, h, w]
  const u = g.op("Reshape", [x, g.op("Concat", [g.constInt64([-1]), ctx.frames, g.constInt64([channels]), hw], { axis: 0 })]);
  return g.op("Transpose", [u], { perm: [0, 2, 1, 3, 4] });
}

/** [B, T, D] → [(B·F), T, D], each row repeated for its frames (repeat_interleave). */
function repeatPerFrame(g: Graph, x: string, frames: string, dim: number): string {
  const e = g.op("Unsqueeze", [x, g.constInt64([1])]); // [B, 1, T, D]
  const expanded = g.op("Expand", [e, g.op("Concat", [g.constInt64([1]), frames, g.constInt64([1, 1])], { axis: 0 })]); // [B, F, T, D]
  const tokens = g.op("Slice", [g.op("Shape", [x]), g.constInt64([1]), g.constInt64([2])]); // [1]
  return g.op("Reshape", [expanded, g.op("Concat", [g.constInt64([-1]), tokens, g.constInt64([dim])], { axis: 0 })]);
}

/**
 * GroupNorm over the whole clip: FateZero applies the ResNet and output norms to [B, C, F, h, w], so
 * each group's statistics span all frames (the transformer's norm, in contrast, is per frame).
 */
function clipNorm(g: Graph, ctx: FrameContext, groups: number, eps: number): NormFn {
  return (x, prefix, channels) => {
    const { clip, restore } = imagesToClip(g, x, ctx, channels); // [B, C, F, h·w]
    const normed = groupNorm(g, clip, prefix, channels, groups, eps);
    return restore(normed);
  };
}

/**
 * FateZero's PseudoConv3d: the spatial convolution, then (for kernels > 1) a temporal one over frames
 * at every position — LoRA-style `x + up(down(x))` or a plain Conv1d, whichever the checkpoint holds.
 */
function pseudo3dConv(g: Graph, ctx: FrameContext): ConvFn {
  return (x, prefix, inC, outC, kernel, options) => {
    const y = conv2d(g, x, prefix, inC, outC, kernel, options);
    const p = `${prefix}.conv_temporal`;
    const lora = g.weights.has(`${p}.down.weight`);
    if (kernel === 1 || (!lora && !g.weights.has(`${p}.weight`))) return y;
    const { seq, restore } = imagesToTemporal(g, y, ctx, outC); // [(B·h·w), C, F]
    const conv1d = (v: string, name: string, cin: number, cout: number, k: number, bias: boolean) => {
      const inputs = [v, g.weight(`${name}.weight`, [cout, cin, k])];
      if (bias) inputs.push(g.weight(`${name}.bias`, [cout]));
      return g.op("Conv", inputs, { kernel_shape: [k], pads: [k >> 1, k >> 1] });
    };
    let t: string;
    if (lora) {
      const rank = g.weights.shapeOf(`${p}.down.weight`)![0];
      t = g.op("Add", [seq, conv1d(conv1d(seq, `${p}.down`, outC, rank, 3, false), `${p}.up`, rank, outC, 3, false)]);
    } else {
      const k = g.weights.shapeOf(`${p}.weight`)![2];
      t = conv1d(seq, p, outC, outC, k, true);
    }
    return restore(t);
  };
}
