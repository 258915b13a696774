// Dynamic int8 quantization of a built graph's weight products, for ONNX Runtime's integer GEMM (MLAS: AMX
// on CPUs with amx_int8, AVX-512 VNNI elsewhere). Only products with a checkpoint weight change:
//  - MatMul x·W (a `linear`, W = Transpose(weight)) → com.microsoft DynamicQuantizeMatMul: W as int8 with one
//    symmetric scale per output column, x quantized per tensor (uint8, asymmetric) at run time; a following
//    Add of a [N] weight (the bias) is folded in.
//  - 2-D Conv with a weight kernel → the same product written out: x quantized per tensor, laid out as
//    [N, H·W, C] and unfolded by one Gather (im2col on the uint8 values; out-of-image taps read a row holding
//    the zero point), then com.microsoft MatMulIntegerToFloat with the int8 kernel as [k·k·C, O] (per output
//    channel scales), and back to [N, O, H', W']. ONNX Runtime's own ConvInteger is not used: it takes only one
//    weight zero point, does not pre-pack the weight and runs its GEMM with the weight as the left operand
//    (not the U8S8 form MLAS sends to AMX); it measured 4–5× slower than the float Conv.
// Everything else stays float32: the attention's activation × activation products (Q·Kᵀ, P·V), softmax,
// GroupNorm/LayerNorm, and anything whose second operand is not a weight (FateZero's mixing inputs).
// The result is a new model; weights quantized are stored inline in it, the others stay where they were.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { onnx } from "onnx-proto";
import { halfToFloat } from "../checkpoint/safetensors";
import { DType, Graph } from "./graph";
import type { LinkedFile } from "./weightSource";

/** Which products to quantize. */
export interface QuantizeOptions {
  /** Weight MatMuls (linear layers); default true. */
  matmul?: boolean;
  /** 2-D convolutions; default true. */
  conv?: boolean;
  /** Products whose input or output width (channels) is below this stay float (the UNet's 4-channel conv_in/out); default 16. */
  minChannels?: number;
  /** Whether the weight (initializer) of this name may be quantized (default: checkpoint weights, names ending ".weight"). */
  include?: (weightName: string) => boolean;
}

/** What the pass changed. */
export interface QuantizeReport {
  /** MatMuls now DynamicQuantizeMatMul, and how many of them took their bias along. */
  matmuls: number;
  biasesFolded: number;
  /** Convolutions now an int8 product. */
  convs: number;
  /** Weight products left in float (not matched, too narrow or excluded), by op type. */
  keptFloat: Record<string, number>;
  /** Parameters now stored as int8. */
  int8Parameters: number;
}

/** Reads a weight initializer's values as float32 (inline or external, float/float16/bfloat16). */
export type WeightReader = (tensor: onnx.ITensorProto) => Float32Array;

const MS_DOMAIN = "com.microsoft";
const QUANTIZE_DEFAULTS = { matmul: true, conv: true, minChannels: 16 };
const INT8 = onnx.TensorProto.DataType.INT8;

/** A reader for initializers stored inline or as external data in `files` (location → path, as the graph links them). */
export function weightReader(files: readonly LinkedFile[], baseDir?: string): WeightReader {
  const byLocation = new Map(files.map((f) => [f.location, f.path]));
  return (t) => {
    const count = (t.dims ?? []).reduce((a, b) => a * Number(b), 1);
    let bytes: Uint8Array;
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      const kv = new Map((t.externalData ?? []).map((e) => [e.key, e.value]));
      const location = kv.get("location")!;
      const file = byLocation.get(location) ?? (baseDir ? path.join(baseDir, location) : undefined);
      if (!file) throw new Error(`quantize: no file for external weight "${t.name}" (location ${location})`);
      const offset = Number(kv.get("offset") ?? 0);
      const length = Number(kv.get("length") ?? count * elementBytes(t.dataType!));
      bytes = Buffer.alloc(length);
      const fd = fs.openSync(file, "r");
      try {
        for (let done = 0; done < length;) {
          const n = fs.readSync(fd, bytes, done, length - done, offset + done);
          if (n <= 0) throw new Error(`quantize: ${file} ends before weight "${t.name}"`);
          done += n;
        }
      } finally {
        fs.closeSync(fd);
      }
    } else if (t.rawData && t.rawData.length > 0) {
      bytes = t.rawData;
    } else if (t.floatData && t.floatData.length > 0) {
      return Float32Array.from(t.floatData);
    } else {
      throw new Error(`quantize: weight "${t.name}" has no data`);
    }
    return toFloat32(bytes, t.dataType!, count, t.name ?? "");
  };
}

function elementBytes(dataType: number): number {
  return dataType === DType.float ? 4 : 2;
}

function toFloat32(bytes: Uint8Array, dataType: number, count: number, name: string): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < count * elementBytes(dataType)) throw new Error(`quantize: weight "${name}" is short`);
  if (dataType === DType.float) for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  else if (dataType === DType.float16) for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  else if (dataType === DType.bfloat16) {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = view.getUint16(2 * i, true) << 16;
  } else throw new Error(`quantize: weight "${name}" has element type ${dataType}, not a float type`);
  return out;
}

/**
 * Symmetric int8 per column of a row-major [K, N] matrix: q = round(w / scale[n]) in [−127, 127] with
 * scale[n] = max|w[·, n]| / 127 (1 for an all-zero column).
 */
export function quantizeColumns(w: Float32Array, K: number, N: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) {
      const a = Math.abs(w[k * N + n]);
      if (a > scale[n]) scale[n] = a;
    }
  for (let n = 0; n < N; n++) scale[n] = scale[n] > 0 ? Math.fround(scale[n] / 127) : 1;
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) q[k * N + n] = Math.max(-127, Math.min(127, Math.round(w[k * N + n] / scale[n])));
  return { q, scale };
}

/** A weight found behind a value: the initializer, its logical shape, and whether the value is its transpose. */
interface WeightValue {
  init: onnx.ITensorProto;
  dims: number[];
}

/** Quantize the weight products of `model` (see the file comment); `read` supplies the weights' values. */
export function quantizeModel(
  model: onnx.IModelProto,
  read: WeightReader,
  options: QuantizeOptions = {},
): { model: onnx.ModelProto; report: QuantizeReport } {
  const o = { ...QUANTIZE_DEFAULTS, include: (name: string) => name.endsWith(".weight"), ...options };
  const graph = model.graph!;
  const nodes = graph.node ?? [];
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of nodes) for (const out of n.output ?? []) producer.set(out, n);
  const uses = new Map<string, onnx.INodeProto[]>();
  for (const n of nodes) for (const i of n.input ?? []) if (i) uses.set(i, [...(uses.get(i) ?? []), n]);
  const graphOutputs = new Set((graph.output ?? []).map((v) => v.name!));

  const b = new Builder();
  // A weight read by several products (a layer computed in chunks) is quantized and stored once.
  const quantizedWeights = new Map<string, { wq: string; ws: string }>();
  const layouts = new Map<string, number>(); // layouts quantized so far per weight name
  const quantizeOnce = (init: onnx.ITensorProto, layout: string, K: number, N: number, matrix: (w: Float32Array) => Float32Array) => {
    const key = `${init.name}\0${layout}`;
    let q = quantizedWeights.get(key);
    if (!q) {
      const { q: values, scale } = quantizeColumns(matrix(read(init)), K, N);
      report.int8Parameters += values.length;
      const n = layouts.get(init.name!) ?? 0;
      layouts.set(init.name!, n + 1);
      const tag = n === 0 ? "" : `_${n}`;
      q = {
        wq: b.init(`${init.name}.int8${tag}`, INT8, [K, N], values),
        ws: b.init(`${init.name}.int8_scale${tag}`, DType.float, [N], scale),
      };
      quantizedWeights.set(key, q);
    }
    return q;
  };
  const report: QuantizeReport = { matmuls: 0, biasesFolded: 0, convs: 0, keptFloat: {}, int8Parameters: 0 };
  const keep = (op: string) => (report.keptFloat[op] = (report.keptFloat[op] ?? 0) + 1);

  // A float weight behind `value`: an initializer, possibly through Cast (to float) and Reshape (constant shape).
  const weightBehind = (value: string): WeightValue | undefined => {
    const init = inits.get(value);
    if (init) return isFloatType(init.dataType) ? { init, dims: (init.dims ?? []).map(Number) } : undefined;
    const p = producer.get(value);
    if (p?.opType === "Cast" && !p.domain && intAttr(p, "to") === DType.float) return weightBehind(p.input![0]);
    if (p?.opType === "Reshape" && !p.domain) {
      const shape = inits.get(p.input![1]);
      const w = weightBehind(p.input![0]);
      if (!shape || !w || shape.dataType !== DType.int64) return undefined;
      const dims = int64Values(shape);
      if (dims.some((d) => d <= 0) || dims.reduce((a, c) => a * c, 1) !== w.dims.reduce((a, c) => a * c, 1)) return undefined;
      return { init: w.init, dims };
    }
    return undefined;
  };

  // Position of each node's replacement: a MatMul whose bias Add is folded moves to the Add.
  const replaced = new Map<onnx.INodeProto, onnx.INodeProto[]>();
  const dropped = new Set<onnx.INodeProto>();

  for (const n of nodes) {
    if (n.domain) continue;
    if (n.opType === "MatMul" && o.matmul) {
      const bIn = n.input![1];
      let transposed = false;
      let wValue = bIn;
      const t = producer.get(bIn);
      if (t?.opType === "Transpose" && !t.domain) {
        const perm = intsAttr(t, "perm");
        if (!perm || perm.join() !== "1,0") continue;
        transposed = true;
        wValue = t.input![0];
      }
      const w = weightBehind(wValue);
      if (!w) continue; // activation × activation (attention) or a non-weight constant
      if (w.dims.length !== 2 || !o.include(w.init.name!)) {
        keep("MatMul");
        continue;
      }
      const [K, N] = transposed ? [w.dims[1], w.dims[0]] : w.dims;
      if (K < o.minChannels || N < o.minChannels) {
        keep("MatMul");
        continue;
      }
      const { wq, ws } = quantizeOnce(w.init, transposed ? "matmul-t" : "matmul", K, N, (v) =>
        transposed ? transpose2d(v, w.dims[0], w.dims[1]) : v,
      );
      // Fold `MatMul → Add(bias)` when the bias is a [N] weight and the product has no other use.
      const out = n.output![0];
      const consumers = uses.get(out) ?? [];
      const add = consumers.length === 1 && !graphOutputs.has(out) ? consumers[0] : undefined;
      const biasValue = add?.opType === "Add" && !add.domain ? add.input!.find((v) => v !== out) : undefined;
      const bias = biasValue !== undefined && add!.input!.filter((v) => v === out).length === 1 ? weightBehind(biasValue) : undefined;
      if (add && bias && bias.dims.length === 1 && bias.dims[0] === N) {
        dropped.add(n);
        replaced.set(add, [
          b.node("DynamicQuantizeMatMul", [n.input![0], wq, ws, "", biasValue!], [add.output![0]], {}, MS_DOMAIN, n.name ?? undefined),
        ]);
        report.biasesFolded++;
      } else {
        replaced.set(n, [b.node("DynamicQuantizeMatMul", [n.input![0], wq, ws], [out], {}, MS_DOMAIN, n.name ?? undefined)]);
      }
      report.matmuls++;
    } else if (n.opType === "Conv" && o.conv) {
      const w = weightBehind(n.input![1]);
      if (!w) continue;
      const plan = convPlan(n, w.dims);
      if (!plan || !o.include(w.init.name!) || plan.inC < o.minChannels || plan.outC < o.minChannels) {
        keep("Conv");
        continue;
      }
      const { wq, ws } = quantizeOnce(w.init, "conv", plan.k * plan.k * plan.inC, plan.outC, (v) => convMatrix(v, plan));
      replaced.set(
        n,
        b.scope(n.name ?? "conv", () => convInt8(b, n.input![0], wq, ws, n.input![2], n.output![0], plan)),
      );
      report.convs++;
    }
  }

  const newNodes: onnx.INodeProto[] = [];
  for (const n of nodes) {
    if (dropped.has(n)) continue;
    newNodes.push(...(replaced.get(n) ?? [n]));
  }
  const out = onnx.ModelProto.create({
    ...model,
    opsetImport: [...(model.opsetImport ?? []).filter((s) => s.domain !== MS_DOMAIN), { domain: MS_DOMAIN, version: 1 }],
    graph: { ...graph, node: newNodes, initializer: [...(graph.initializer ?? []), ...b.initializers] },
  });
  removeUnused(out.graph!);
  return { model: out, report };
}

/** A 2-D convolution's geometry, when it is one this pass rewrites (group 1, no dilation, explicit pads). */
interface ConvPlan {
  inC: number;
  outC: number;
  k: number;
  stride: number;
  pads: [number, number, number, number]; // top, left, bottom, right
}

function convPlan(n: onnx.INodeProto, dims: number[]): ConvPlan | undefined {
  if (dims.length !== 4 || dims[2] !== dims[3]) return undefined;
  const group = intAttr(n, "group") ?? 1;
  const dil = intsAttr(n, "dilations") ?? [1, 1];
  const strides = intsAttr(n, "strides") ?? [1, 1];
  const pads = intsAttr(n, "pads") ?? [0, 0, 0, 0];
  const autoPad = n.attribute?.find((a) => a.name === "auto_pad");
  const autoPadValue = autoPad?.s ? new TextDecoder().decode(autoPad.s) : "NOTSET";
  if (group !== 1 || dil.some((d) => d !== 1) || strides[0] !== strides[1] || autoPadValue !== "NOTSET" || pads.length !== 4)
    return undefined;
  return { outC: dims[0], inC: dims[1], k: dims[2], stride: strides[0], pads: [pads[0], pads[1], pads[2], pads[3]] };
}

/** An [O, C, k, k] kernel as the row-major [k·k·C, O] matrix of the NHWC unfold (row (ky·k + kx)·C + c). */
function convMatrix(w: Float32Array, p: ConvPlan): Float32Array {
  const { inC: C, outC: O, k } = p;
  const m = new Float32Array(k * k * C * O);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) m[((ky * k + kx) * C + c) * O + o] = w[((o * C + c) * k + ky) * k + kx];
  return m;
}

function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

/**
 * The nodes of one int8 convolution x [N, C, H, W] → `output` [N, O, H', W'], with the quantized kernel `wq`
 * [k·k·C, O], its scales `ws` [O] and the float bias (or "").
 */
function convInt8(b: Builder, x: string, wq: string, ws: string, bias: string | undefined, output: string, p: ConvPlan): onnx.INodeProto[] {
  const start = b.nodes.length;
  const { inC: C, outC: O, k, stride: s, pads } = p;
  const [xq, xs, xz] = b.opN("DynamicQuantizeLinear", [x], 3); // uint8 [N, C, H, W], scale, zero point
  const rows = b.op("Reshape", [b.op("Transpose", [xq], { perm: [0, 2, 3, 1] }), b.i64([0, -1, C])]); // [N, H·W, C]
  const shape = b.op("Shape", [x]);
  const H = b.op("Slice", [shape, b.i64([2]), b.i64([3])]); // [1]
  const W = b.op("Slice", [shape, b.i64([3]), b.i64([4])]);
  let cols: string;
  let Ho = H;
  let Wo = W;
  if (k === 1 && s === 1 && pads.every((v) => v === 0)) {
    cols = rows;
  } else {
    // Output size, and for each output pixel and tap the input row it reads (H·W, the zero-point row, off the image).
    const one = b.i64([1]);
    const size = (len: string, before: number, after: number) =>
      b.op("Add", [b.op("Div", [b.op("Add", [len, b.i64([before + after - k])]), b.i64([s])]), one]);
    Ho = size(H, pads[0], pads[2]);
    Wo = size(W, pads[1], pads[3]);
    const taps = b.i64(Array.from({ length: k }, (_, i) => i));
    const range = (n: string) => b.op("Range", [b.i64([0], []), b.op("Squeeze", [n, b.i64([0])]), b.i64([1], [])]);
    // iy [Ho, 1, k, 1] and ix [1, Wo, 1, k]
    const at = (len: string, pad: number, axes: number[], tapShape: number[]) => {
      const base = b.op("Unsqueeze", [b.op("Sub", [b.op("Mul", [range(len), b.i64([s])]), b.i64([pad])]), b.i64(axes)]);
      return b.op("Add", [base, b.op("Reshape", [taps, b.i64(tapShape)])]);
    };
    const iy = at(Ho, pads[0], [1, 2, 3], [1, 1, k, 1]);
    const ix = at(Wo, pads[1], [0, 2, 3], [1, 1, 1, k]);
    const inside = (v: string, len: string) => b.op("And", [b.op("Greater", [v, b.i64([-1])]), b.op("Less", [v, len])]);
    const valid = b.op("And", [inside(iy, H), inside(ix, W)]); // [Ho, Wo, k, k]
    const HW = b.op("Mul", [H, W]);
    const index = b.op("Where", [valid, b.op("Add", [b.op("Mul", [iy, W]), ix]), HW]); // [Ho, Wo, k, k]
    const batch = b.op("Slice", [shape, b.i64([0]), b.i64([1])]);
    const zeroRow = b.op("Expand", [b.op("Reshape", [xz, b.i64([1, 1, 1])]), b.op("Concat", [batch, b.i64([1, C])], { axis: 0 })]);
    const table = b.op("Concat", [rows, zeroRow], { axis: 1 }); // [N, H·W + 1, C]
    const gathered = b.op("Gather", [table, index], { axis: 1 }); // [N, Ho, Wo, k, k, C]
    cols = b.op("Reshape", [gathered, b.i64([0, -1, k * k * C])]); // [N, Ho·Wo, k·k·C]
  }
  const y = b.op("MatMulIntegerToFloat", [cols, wq, xs, ws, xz, "", ...(bias ? [bias] : [])], {}, MS_DOMAIN); // [N, Ho·Wo, O]
  const yT = b.op("Transpose", [y], { perm: [0, 2, 1] }); // [N, O, Ho·Wo]
  b.node("Reshape", [yT, b.op("Concat", [b.i64([0, O]), Ho, Wo], { axis: 0 })], [output]);
  return b.nodes.slice(start);
}

/** Collects new nodes and initializers with fresh names. */
class Builder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private counter = 0;
  private prefix = "";

  scope<T>(name: string, body: () => T): T {
    const before = this.prefix;
    this.prefix = `${name}/int8/`;
    try {
      return body();
    } finally {
      this.prefix = before;
    }
  }

  private fresh(hint: string): string {
    return `${this.prefix}${hint}_q${this.counter++}`;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[]> = {}, domain = "", name?: string) {
    const n: onnx.INodeProto = {
      opType,
      domain,
      input: inputs,
      output: outputs,
      name: name ? `${name}/int8` : this.fresh(opType),
      attribute: Object.entries(attrs).map(([k, v]) =>
        Array.isArray(v)
          ? { name: k, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
          : { name: k, type: onnx.AttributeProto.AttributeType.INT, i: v },
      ),
    };
    this.nodes.push(n);
    return n;
  }

  op(opType: string, inputs: string[], attrs: Record<string, number | number[]> = {}, domain = ""): string {
    return this.opN(opType, inputs, 1, attrs, domain)[0];
  }

  opN(opType: string, inputs: string[], count: number, attrs: Record<string, number | number[]> = {}, domain = ""): string[] {
    const base = this.fresh(opType);
    const outputs = Array.from({ length: count }, (_, i) => `${base}:${i}`);
    this.node(opType, inputs, outputs, attrs, domain);
    return outputs;
  }

  init(name: string, dataType: number, dims: number[], data: Int8Array | Float32Array | BigInt64Array): string {
    this.initializers.push({ name, dataType, dims, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** An int64 constant ([n] by default; [] for a scalar). */
  i64(values: number[], dims: number[] = [values.length]): string {
    return this.init(this.fresh("const"), DType.int64, dims, BigInt64Array.from(values.map((v) => BigInt(v))));
  }
}

/** Drop nodes whose outputs nothing reads, then initializers nothing reads (the float weights now quantized). */
function removeUnused(g: onnx.IGraphProto): void {
  const live = new Set((g.output ?? []).map((v) => v.name!));
  const kept: onnx.INodeProto[] = [];
  for (const n of [...(g.node ?? [])].reverse()) {
    if (!(n.output ?? []).some((v) => live.has(v))) continue;
    kept.push(n);
    for (const i of n.input ?? []) if (i) live.add(i);
  }
  g.node = kept.reverse();
  g.initializer = (g.initializer ?? []).filter((t) => live.has(t.name!));
}

function isFloatType(t: number | null | undefined): boolean {
  return t === DType.float || t === DType.float16 || t === DType.bfloat16;
}

function intAttr(n: onnx.INodeProto, name: string): number | undefined {
  const a = n.attribute?.find((x) => x.name === name);
  return a ? Number(a.i) : undefined;
}

function intsAttr(n: onnx.INodeProto, name: string): number[] | undefined {
  const a = n.attribute?.find((x) => x.name === name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}

function int64Values(t: onnx.ITensorProto): number[] {
  if (t.rawData && t.rawData.length) {
    const v = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Array.from({ length: t.rawData.byteLength / 8 }, (_, i) => Number(v.getBigInt64(8 * i, true)));
  }
  return (t.int64Data ?? []).map(Number);
}

/** The pass's version in the cache keys of quantized graphs: bump it whenever the pass's output changes. */
const QUANTIZE_PASS_VERSION = 1;

/**
 * A graph whose model is `inner`'s, quantized: hand it to openSession like the graph itself (same weight files).
 * Its cache identity is the float graph's plus the pass and its options, so a cached int8 model is opened
 * without quantizing again (the weight files' hashes join the key in writeGraph).
 */
export class QuantizedGraph extends Graph {
  private built?: { model: onnx.ModelProto; report: QuantizeReport };

  constructor(
    private readonly inner: Graph,
    private readonly files: readonly LinkedFile[],
    private readonly options: QuantizeOptions = {},
  ) {
    super(`${inner.name}_int8`, inner.weights);
  }

  override cacheIdentity(): { key: string } {
    const { matmul, conv, minChannels, include } = { ...QUANTIZE_DEFAULTS, ...this.options };
    const pass = JSON.stringify({ version: QUANTIZE_PASS_VERSION, matmul, conv, minChannels, include: include?.toString() ?? null });
    return { key: crypto.createHash("sha256").update(`int8\0${pass}\0${this.inner.cacheIdentity().key}`).digest("hex") };
  }

  override toModel(): onnx.ModelProto {
    this.built ??= quantizeModel(this.inner.toModel(), weightReader(this.files), this.options);
    return this.built.model;
  }

  /** What the pass changed (quantizes on first use). */
  get report(): QuantizeReport {
    this.toModel();
    return this.built!.report;
  }
}

/** Error of a quantized output against its fp32 reference: max and mean absolute, the reference's scale, and both relative. */
export function outputError(got: Float32Array, ref: Float32Array) {
  let max = 0;
  let sum = 0;
  let refMax = 0;
  let refSum = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    max = Math.max(max, d);
    sum += d;
    refMax = Math.max(refMax, Math.abs(ref[i]));
    refSum += Math.abs(ref[i]);
  }
  const n = Math.max(ref.length, 1);
  return { max, mean: sum / n, refMax, refMean: refSum / n, maxRel: max / refMax, meanRel: sum / refSum };
}
