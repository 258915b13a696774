// Building blocks shared by the VAE and the UNet (diffusers 0.11.1 semantics): the ResNet block and
// the 2× up/down samplers. Convolutions and norms go through `ConvFn` / `NormFn` so the inflated video
// UNet can add its temporal convolution after every spatial one (FateZero's PseudoConv3d) and take
// GroupNorm statistics over the whole clip, without a second copy of these blocks.
import type { Graph } from "../onnx/graph";
import { conv2d, groupNorm, linear, silu } from "../onnx/layers";

/** A convolution at `prefix` on [N, inC, H, W] → [N, outC, H', W']. */
export type ConvFn = (
  x: string,
  prefix: string,
  inC: number,
  outC: number,
  kernel: number,
  options?: { stride?: number; pad?: number },
) => string;

/** A GroupNorm at `prefix` on [N, C, H, W]. */
export type NormFn = (x: string, prefix: string, channels: number) => string;

/** Plain per-image convolutions. */
export function spatialConv(g: Graph): ConvFn {
  return (x, prefix, inC, outC, kernel, options) => conv2d(g, x, prefix, inC, outC, kernel, options);
}

/** Per-image GroupNorm. */
export function spatialNorm(g: Graph, groups: number, eps: number): NormFn {
  return (x, prefix, channels) => groupNorm(g, x, prefix, channels, groups, eps);
}

/** Options of one ResNet block. */
export interface ResnetOptions {
  norm: NormFn;
  conv: ConvFn;
  /** Time embedding [1 or N, temb] (already computed), projected per block by `time_emb_proj`. */
  temb?: { value: string; channels: number };
}

/** diffusers ResnetBlock2D: GN → SiLU → conv → (+ time) → GN → SiLU → conv, plus the (1×1) shortcut. */
export function resnetBlock(g: Graph, x: string, prefix: string, inC: number, outC: number, o: ResnetOptions): string {
  return g.scoped(prefix, () => {
    let h = silu(g, o.norm(x, `${prefix}.norm1`, inC));
    h = o.conv(h, `${prefix}.conv1`, inC, outC, 3);
    if (o.temb) {
      const t = linear(g, silu(g, o.temb.value), `${prefix}.time_emb_proj`, o.temb.channels, outC); // [N, outC]
      h = g.op("Add", [h, g.op("Unsqueeze", [t, g.constInt64([2, 3])])]);
    }
    h = silu(g, o.norm(h, `${prefix}.norm2`, outC));
    h = o.conv(h, `${prefix}.conv2`, outC, outC, 3);
    const shortcut = inC === outC ? x : o.conv(x, `${prefix}.conv_shortcut`, inC, outC, 1);
    return g.op("Add", [shortcut, h]);
  });
}

/** Nearest-neighbour 2× upsampling followed by a 3×3 conv (Upsample2D with use_conv). */
export function upsample(g: Graph, x: string, prefix: string, channels: number, conv: ConvFn): string {
  const up = g.op("Resize", [x, "", g.constFloat([1, 1, 2, 2], [4])], {
    mode: "nearest",
    nearest_mode: "floor",
    coordinate_transformation_mode: "asymmetric",
  });
  return conv(up, `${prefix}.conv`, channels, channels, 3);
}

/**
 * Stride-2 3×3 conv (Downsample2D with use_conv). With padding 0 the input is first padded by one on
 * the right and bottom only, as the VAE encoder does.
 */
export function downsample(g: Graph, x: string, prefix: string, channels: number, padding: number, conv: ConvFn): string {
  if (padding === 0) {
    const padded = g.op("Pad", [x, g.constInt64([0, 0, 0, 0, 0, 0, 1, 1])]);
    return conv(padded, `${prefix}.conv`, channels, channels, 3, { stride: 2, pad: 0 });
  }
  return conv(x, `${prefix}.conv`, channels, channels, 3, { stride: 2, pad: padding });
}
