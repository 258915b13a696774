// PyTorch layer semantics (Linear, Conv2d, GroupNorm, LayerNorm, activations) as ONNX nodes.
// Parameter names follow the checkpoint: `prefix + ".weight"` / `prefix + ".bias"`.
import type { Graph } from "./graph";

/** y = x·Wᵀ + b over the last axis; W is [out, in] as torch stores it. */
export function linear(g: Graph, x: string, prefix: string, inF: number, outF: number, bias = true): string {
  const wT = g.op("Transpose", [g.weight(`${prefix}.weight`, [outF, inF])], { perm: [1, 0] }); // [in, out]
  const y = g.op("MatMul", [x, wT]);
  return bias ? g.op("Add", [y, g.weight(`${prefix}.bias`, [outF])]) : y;
}

/** 2D convolution on [N, C, H, W] with square kernel, symmetric padding. */
export function conv2d(
  g: Graph,
  x: string,
  prefix: string,
  inC: number,
  outC: number,
  kernel: number,
  options: { stride?: number; pad?: number; bias?: boolean } = {},
): string {
  const stride = options.stride ?? 1;
  const pad = options.pad ?? Math.floor(kernel / 2);
  const inputs = [x, g.weight(`${prefix}.weight`, [outC, inC, kernel, kernel])];
  if (options.bias ?? true) inputs.push(g.weight(`${prefix}.bias`, [outC]));
  return g.op("Conv", inputs, {
    kernel_shape: [kernel, kernel],
    strides: [stride, stride],
    pads: [pad, pad, pad, pad],
  });
}

/**
 * GroupNorm on [N, C, ...]: normalise each of `groups` channel groups over its channels and positions
 * (InstanceNormalization over [N, G, C/G·…]), then the per-channel affine.
 */
export function groupNorm(g: Graph, x: string, prefix: string, channels: number, groups: number, eps: number): string {
  if (channels % groups !== 0) throw new Error(`${prefix}: ${channels} channels do not split into ${groups} groups`);
  const grouped = g.op("Reshape", [x, g.constInt64([0, groups, -1])]); // [N, G, C/G·H·W]
  const ones = g.constFloat(new Float32Array(groups).fill(1), [groups]);
  const zeros = g.constFloat(new Float32Array(groups), [groups]);
  const normed = g.op("InstanceNormalization", [grouped, ones, zeros], { epsilon: { float: eps } });
  const back = g.op("Reshape", [normed, g.op("Shape", [x])]); // [N, C, H, W]
  const gamma = g.op("Reshape", [g.weight(`${prefix}.weight`, [channels]), g.constInt64([channels, 1, 1])]);
  const beta = g.op("Reshape", [g.weight(`${prefix}.bias`, [channels]), g.constInt64([channels, 1, 1])]);
  return g.op("Add", [g.op("Mul", [back, gamma]), beta]);
}

/** LayerNorm over the last axis. */
export function layerNorm(g: Graph, x: string, prefix: string, channels: number, eps: number): string {
  return g.op("LayerNormalization", [x, g.weight(`${prefix}.weight`, [channels]), g.weight(`${prefix}.bias`, [channels])], {
    axis: -1,
    epsilon: { float: eps },
  });
}

/** SiLU (swish): x·σ(x). */
export function silu(g: Graph, x: string): string {
  return g.op("Mul", [x, g.op("Sigmoid", [x])]);
}

/** Exact GELU: ½·x·(1 + erf(x/√2)), as torch's default. */
export function gelu(g: Graph, x: string): string {
  const erf = g.op("Erf", [g.op("Mul", [x, g.constFloat([Math.SQRT1_2], [])])]);
  const onePlus = g.op("Add", [erf, g.constFloat([1], [])]);
  return g.op("Mul", [g.op("Mul", [x, onePlus]), g.constFloat([0.5], [])]);
}

/** CLIP's quick GELU: x·σ(1.702·x). */
export function quickGelu(g: Graph, x: string): string {
  return g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, g.constFloat([1.702], [])])])]);
}

/** Slice `[start, end)` of one axis. */
export function sliceAxis(g: Graph, x: string, axis: number, start: number, end: number): string {
  return g.op("Slice", [x, g.constInt64([start]), g.constInt64([end]), g.constInt64([axis])]);
}

/**
 * `fn` over pieces of at most `chunk` entries of x's `axis` (of static size `length`), joined again along it:
 * for computations independent along that axis whose widest activation would be too large all at once.
 */
export function inChunks(g: Graph, x: string, axis: number, length: number, chunk: number, fn: (piece: string) => string): string {
  if (chunk >= length) return fn(x);
  const pieces = [];
  for (let start = 0; start < length; start += chunk) pieces.push(fn(sliceAxis(g, x, axis, start, Math.min(start + chunk, length))));
  return g.op("Concat", pieces, { axis });
}
