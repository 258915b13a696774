// Where a graph's weights come from. A checkpoint source points ONNX external data at the tensors inside
// the safetensors files (no copy of the weights is made); extra tensors can be injected inline (e.g. the
// random temporal-attention output biases that FateZero's from_2d_model inflation initialises); a recording source lists what an
// architecture needs, which is how the tiny model generator knows every parameter name and shape.
import { onnx } from "onnx-proto";
import type { SafetensorsDtype } from "../checkpoint/safetensors";
import type { WeightSet } from "../checkpoint/weightSet";

const ONNX_TYPE: Partial<Record<SafetensorsDtype, number>> = {
  F32: onnx.TensorProto.DataType.FLOAT,
  F16: onnx.TensorProto.DataType.FLOAT16,
  BF16: onnx.TensorProto.DataType.BFLOAT16,
  F64: onnx.TensorProto.DataType.DOUBLE,
};

/** A tensor stored in a file beside the ONNX model (`location` is relative to the model file). */
export interface ExternalWeight {
  kind: "external";
  location: string;
  offset: number;
  length: number;
  dataType: number;
  shape: number[];
}

/** A tensor embedded in the ONNX model itself. */
export interface InlineWeight {
  kind: "inline";
  data: Float32Array;
  shape: number[];
}

export type WeightRef = ExternalWeight | InlineWeight;

/** Resolves parameter names to tensors for the graph builder. */
export interface WeightSource {
  /** Whether the parameter exists (optional parts of an architecture depend on it). */
  has(name: string): boolean;
  /** The stored shape of a parameter (for sizes the config does not give, such as a LoRA rank). */
  shapeOf(name: string): number[] | undefined;
  /** The tensor for `name`, checked against the element count of `shape`. */
  reference(name: string, shape: number[]): WeightRef;
}

/** A file the graph refers to, and the name it must have beside the model file. */
export interface LinkedFile {
  path: string;
  location: string;
}

/** Weights read in place from one component's safetensors files, with optional inline overrides. */
export class CheckpointWeights implements WeightSource {
  private readonly locations = new Map<string, string>();

  constructor(
    readonly component: string,
    private readonly weights: WeightSet,
    private readonly injected: ReadonlyMap<string, Float32Array> = new Map(),
  ) {}

  has(name: string): boolean {
    return this.injected.has(name) || this.weights.has(name);
  }

  shapeOf(name: string): number[] | undefined {
    const injected = this.injected.get(name);
    if (injected) return [injected.length];
    return this.weights.has(name) ? this.weights.shape(name) : undefined;
  }

  reference(name: string, shape: number[]): WeightRef {
    const want = shape.reduce((a, b) => a * b, 1);
    const injected = this.injected.get(name);
    if (injected) {
      if (injected.length !== want) throw shapeError(this.component, name, [injected.length], shape);
      return { kind: "inline", data: injected, shape };
    }
    const { file, entry } = this.weights.locate(name);
    // The exact shape, not just the element count: [16, 4, 9, 1] is not a [16, 4, 3, 3] kernel.
    if (entry.shape.join() !== shape.join()) throw shapeError(this.component, name, entry.shape, shape);
    const dataType = ONNX_TYPE[entry.dtype];
    if (dataType === undefined) throw new Error(`${this.component}: tensor "${name}" has dtype ${entry.dtype}, expected a float type`);
    let location = this.locations.get(file.path);
    if (!location) {
      location = `weights${this.locations.size}.safetensors`;
      this.locations.set(file.path, location);
    }
    return { kind: "external", location, offset: entry.fileOffset, length: entry.byteLength, dataType, shape: entry.shape };
  }

  /** The safetensors files referenced so far, with the names the graph expects for them. */
  linkedFiles(): LinkedFile[] {
    return [...this.locations].map(([path, location]) => ({ path, location }));
  }
}

/** Records the parameters an architecture asks for, without any checkpoint. */
export class RecordingWeights implements WeightSource {
  readonly requested = new Map<string, number[]>();

  constructor(private readonly present: (name: string) => boolean = () => true) {}

  has(name: string): boolean {
    return this.present(name);
  }

  shapeOf(name: string): number[] | undefined {
    return this.requested.get(name);
  }

  reference(name: string, shape: number[]): WeightRef {
    this.requested.set(name, shape);
    return { kind: "inline", data: new Float32Array(0), shape };
  }
}

function shapeError(component: string, name: string, have: number[], want: number[]): Error {
  return new Error(
    `${component}: tensor "${name}" has shape [${have.join(", ")}] but the configuration needs [${want.join(", ")}]` +
      " — does config.json match the weights?",
  );
}
