// A reference fixture laid out like ../shared/reference/public: `model/` (diffusers folder),
// `refs.json` (what each tensor means and which inputs produced it) and `refs.safetensors`.
import * as fs from "node:fs";
import * as path from "node:path";
import { SafetensorsFile } from "../checkpoint/safetensors";
import { InputError } from "../util/inputError";

/** refs.json's description of one tensor. */
export interface RefInfo {
  name: string;
  dtype: string;
  shape: number[];
  meaning?: string;
  inputs?: Record<string, unknown>;
  call?: string;
}

/** An opened fixture folder. */
export class Fixture {
  readonly modelDir: string;
  readonly info: Record<string, unknown>;
  readonly tensors: ReadonlyMap<string, RefInfo>;
  readonly refs: SafetensorsFile;

  constructor(readonly dir: string) {
    this.modelDir = path.join(dir, "model");
    const jsonPath = path.join(dir, "refs.json");
    if (!fs.existsSync(jsonPath)) throw new InputError(`fixture ${dir}: missing refs.json`);
    try {
      this.info = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
    } catch (e) {
      throw new InputError(`fixture ${jsonPath}: not valid JSON (${(e as Error).message})`);
    }
    const list = (this.info.tensors ?? []) as RefInfo[];
    if (!Array.isArray(list)) throw new InputError(`fixture ${jsonPath}: "tensors" is not a list`);
    this.tensors = new Map(list.map((t) => [t.name, t]));
    this.refs = SafetensorsFile.open(path.join(dir, "refs.safetensors"));
  }

  /** Every reference tensor name, in file order. */
  names(): string[] {
    return [...this.refs.entries.keys()];
  }

  /** A reference tensor as numbers (floats as float32, integers exactly). */
  read(name: string): Float64Array {
    const e = this.refs.entry(name);
    if (e.dtype === "I64" || e.dtype === "I32") return Float64Array.from(this.refs.readInt64(name), Number);
    if (e.dtype === "U8") return Float64Array.from(this.refs.readBytes(name));
    return Float64Array.from(this.refs.readFloat32(name));
  }

  /** A float reference tensor as float32 (model inputs). */
  readFloat32(name: string): Float32Array {
    return this.refs.readFloat32(name);
  }

  /** The shape of a reference tensor. */
  shape(name: string): number[] {
    return this.refs.entry(name).shape;
  }

  /**
   * The random temporal-attention biases FateZero's inflation gave UNet variant `variant`
   * (`unet3d.<variant>.init.*`), except those the checkpoint itself holds (a tuned UNet's own weights
   * replace the initial values when FateZero loads it).
   */
  temporalBiases(variant: string, inCheckpoint: (name: string) => boolean): Map<string, Float32Array> {
    const prefix = `unet3d.${variant}.init.`;
    const out = new Map<string, Float32Array>();
    for (const n of this.names())
      if (n.startsWith(prefix) && !inCheckpoint(n.slice(prefix.length))) out.set(n.slice(prefix.length), this.readFloat32(n));
    return out;
  }

  /** A value in refs.json by dotted path, or undefined. */
  get(pathSpec: string): unknown {
    let v: unknown = this.info;
    for (const key of pathSpec.split(".")) {
      if (v === null || typeof v !== "object") return undefined;
      v = (v as Record<string, unknown>)[key];
    }
    return v;
  }
}
