// A small builder for ONNX graphs over the protobuf schema of `onnx-proto`. Model code calls `op()`
// with ONNX operator names, so the math stays visible; weights are referenced in place as external
// data inside the checkpoint's safetensors files (see weightSource.ts), constants are stored inline.
import * as crypto from "node:crypto";
import { onnx } from "onnx-proto";
import type { WeightSource } from "./weightSource";

/** ONNX element types used by this project. */
export const DType = {
  float: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
  float16: onnx.TensorProto.DataType.FLOAT16,
  bfloat16: onnx.TensorProto.DataType.BFLOAT16,
  double: onnx.TensorProto.DataType.DOUBLE,
} as const;

/** A dimension: a fixed size or a symbolic name such as "batch". */
export type Dim = number | string;

/** Attribute values accepted by `op()`: numbers are ints unless listed in `floatAttrs`. */
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | onnx.ITensorProto;

/** The opset every graph is written against (LayerNormalization needs 17). */
export const OPSET = 17;

/** Builds one ONNX graph; values are referred to by their string names. */
export class Graph {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly weightValues = new Map<string, string>();
  private counter = 0;
  private scopes: string[] = [];

  constructor(
    readonly name: string,
    readonly weights: WeightSource,
  ) {}

  /** Run `body` with node names prefixed by `scope` (module paths make graphs readable in Netron). */
  scoped<T>(scope: string, body: () => T): T {
    this.scopes.push(scope);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  private fresh(hint: string): string {
    const scope = this.scopes.length ? this.scopes[this.scopes.length - 1] + "/" : "";
    return `${scope}${hint}_${this.counter++}`;
  }

  /** Declare a graph input. */
  input(name: string, elemType: number, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declare a graph output named `name` carrying `value`. */
  output(name: string, value: string, elemType: number = DType.float, dims?: Dim[]): void {
    this.nodes.push({ opType: "Identity", input: [value], output: [name], name: this.fresh("output") });
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** Add one node; returns its single output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.opN(opType, inputs, 1, attrs)[0];
  }

  /** Add one node with `count` outputs. */
  opN(opType: string, inputs: string[], count: number, attrs: Record<string, AttrValue> = {}): string[] {
    const name = this.fresh(opType);
    const output = Array.from({ length: count }, (_, i) => (count === 1 ? name : `${name}:${i}`));
    this.nodes.push({
      opType,
      input: inputs,
      output,
      name,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** An inline float32 constant. */
  constFloat(values: ArrayLike<number>, dims: number[]): string {
    const data = Float32Array.from(values);
    return this.initializer(DType.float, dims, new Uint8Array(data.buffer));
  }

  /** An inline int64 constant (shapes, axes, indices). */
  constInt64(values: number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.initializer(DType.int64, dims, new Uint8Array(data.buffer));
  }

  private initializer(dataType: number, dims: number[], rawData: Uint8Array): string {
    const name = this.fresh("const");
    this.initializers.push({ name, dataType, dims, rawData });
    return name;
  }

  /**
   * A checkpoint tensor as a float32 value. `shape` is what the architecture expects: a mismatch with the
   * checkpoint is an error naming the tensor. Half-precision weights are cast in the graph (ONNX Runtime
   * folds the cast once at load), so fp16 checkpoints are referenced in place too.
   */
  weight(name: string, shape: number[]): string {
    const cached = this.weightValues.get(name);
    if (cached) return cached;
    const ref = this.weights.reference(name, shape);
    let value = name;
    if (ref.kind === "inline") {
      this.initializers.push({
        name,
        dataType: DType.float,
        dims: shape,
        rawData: new Uint8Array(ref.data.buffer, ref.data.byteOffset, ref.data.byteLength),
      });
    } else {
      this.initializers.push({
        name,
        dataType: ref.dataType,
        dims: ref.shape,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: ref.location },
          { key: "offset", value: String(ref.offset) },
          { key: "length", value: String(ref.length) },
        ],
      });
      if (ref.dataType !== DType.float) value = this.op("Cast", [value], { to: DType.float });
      if (ref.shape.join() !== shape.join()) value = this.op("Reshape", [value, this.constInt64(shape)]);
    }
    this.weightValues.set(name, value);
    return value;
  }

  /**
   * The graph's identity in the graph cache (with its weight files'): by default the sha256 of the serialized
   * model, returned with the bytes so they are encoded once. A derived graph (quantize.ts) names itself by what
   * it is derived from instead, so a cached copy is found without deriving it again.
   */
  cacheIdentity(): { key: string; bytes?: Uint8Array } {
    const bytes = onnx.ModelProto.encode(this.toModel()).finish();
    return { key: crypto.createHash("sha256").update(bytes).digest("hex"), bytes };
  }

  /** The finished model. */
  toModel(): onnx.ModelProto {
    return onnx.ModelProto.create({
      irVersion: 8,
      producerName: "fatezero-ts",
      opsetImport: [{ domain: "", version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }
}

function valueInfo(name: string, elemType: number, dims?: Dim[]): onnx.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType, shape } } };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ("float" in v) return { name, type: T.FLOAT, f: v.float };
  if ("floats" in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.TENSOR, t: v };
}
