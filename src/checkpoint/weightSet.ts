// The tensors of one model component, which a checkpoint may spread over several safetensors files
// (diffusers shards). Lookups go through one name → file map so callers never care which shard holds
// a tensor, and a missing tensor is reported with the nearest naming slip the checkpoint does contain.
import * as path from "node:path";
import { SafetensorsFile, TensorEntry } from "./safetensors";

/** Where one tensor lives: the opened file, its header entry (shape as the set presents it) and its name there. */
export interface TensorLocation {
  file: SafetensorsFile;
  entry: TensorEntry;
  /** The tensor's name inside the file (differs from the set's name in a renamed view). */
  stored: string;
}

/** A tensor of a renamed view: its name in the file, and the shape to present when it differs (same values). */
export interface StoredTensor {
  stored: string;
  shape?: number[];
}

/** The VAE attention projections are stored under either of these names, depending on the diffusers version. */
const VAE_ATTENTION_ALIASES: [string, string][] = [
  [".query.", ".to_q."],
  [".key.", ".to_k."],
  [".value.", ".to_v."],
  [".proj_attn.", ".to_out.0."],
];

/** All tensors of one model component, possibly sharded over several safetensors files. */
export class WeightSet {
  private constructor(
    /** Folder of the component, used to make error messages point at the right checkpoint part. */
    readonly dir: string,
    readonly files: readonly SafetensorsFile[],
    private readonly index: ReadonlyMap<string, TensorLocation>,
  ) {}

  /** Open and validate the given safetensors files as one set; a tensor name in two files is an error. */
  static open(files: string[]): WeightSet {
    if (files.length === 0) throw new Error("WeightSet.open: no safetensors files given");
    const opened = files.map((f) => SafetensorsFile.open(f));
    const index = new Map<string, TensorLocation>();
    for (const file of opened) {
      for (const entry of file.entries.values()) {
        const other = index.get(entry.name);
        if (other) {
          throw new Error(
            `tensor "${entry.name}" appears in both ${other.file.path} and ${file.path}; ` +
              "a sharded checkpoint must store each tensor exactly once",
          );
        }
        index.set(entry.name, { file, entry, stored: entry.name });
      }
    }
    return new WeightSet(path.dirname(path.resolve(files[0])), opened, index);
  }

  /**
   * A component whose tensors are named differently inside one file (a single-file checkpoint): `names`
   * maps each name the component uses to the stored tensor, optionally reshaped (the element counts must
   * agree; a 1×1 convolution kernel read as a matrix, for instance).
   */
  static renamed(dir: string, file: SafetensorsFile, names: ReadonlyMap<string, StoredTensor>): WeightSet {
    const index = new Map<string, TensorLocation>();
    for (const [name, { stored, shape }] of names) {
      const entry = file.entry(stored);
      const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
      if (shape && count(shape) !== count(entry.shape))
        throw new Error(`${file.path}: "${stored}" has shape [${entry.shape.join(", ")}], not [${shape.join(", ")}]`);
      index.set(name, { file, entry: { ...entry, name, shape: shape ?? entry.shape }, stored });
    }
    return new WeightSet(dir, [file], index);
  }

  /** A set with no tensors (a component whose weights come from elsewhere). */
  static empty(dir: string): WeightSet {
    return new WeightSet(dir, [], new Map());
  }

  /** Whether the component has a tensor of this name. */
  has(name: string): boolean {
    return this.index.has(name);
  }

  /** Every tensor name, sorted. */
  names(): string[] {
    return [...this.index.keys()].sort();
  }

  /** The file and entry holding a tensor; a missing one is an error that names the folder and suggests near misses. */
  locate(name: string): TensorLocation {
    const found = this.index.get(name);
    if (found) return found;
    const similar = this.similarNames(name);
    const hint = similar.length > 0 ? ` (it does have ${similar.map((s) => `"${s}"`).join(", ")})` : "";
    throw new Error(`${this.dir}: the weights have no tensor "${name}"${hint}`);
  }

  /** The shape of a tensor. */
  shape(name: string): number[] {
    return [...this.locate(name).entry.shape];
  }

  /** A floating-point tensor converted to float32, whatever its stored float dtype. */
  readFloat32(name: string): Float32Array {
    const { file, stored } = this.locate(name);
    return file.readFloat32(stored);
  }

  /** Existing names that differ from `name` by a known slip: VAE attention scheme, weight/bias, or a module prefix. */
  private similarNames(name: string): string[] {
    const candidates = new Set<string>();
    for (const [a, b] of VAE_ATTENTION_ALIASES) {
      if (name.includes(a)) candidates.add(name.replace(a, b));
      if (name.includes(b)) candidates.add(name.replace(b, a));
    }
    if (name.endsWith(".weight")) candidates.add(`${name.slice(0, -".weight".length)}.bias`);
    if (name.endsWith(".bias")) candidates.add(`${name.slice(0, -".bias".length)}.weight`);
    const found = [...candidates].filter((c) => this.index.has(c));
    if (found.length > 0) return found;
    // A checkpoint saved from a wrapper module carries an extra leading prefix (or lacks one), e.g. "text_model.".
    return [...this.index.keys()]
      .filter((k) => k.endsWith(`.${name}`) || name.endsWith(`.${k}`))
      .sort()
      .slice(0, 3);
  }
}
