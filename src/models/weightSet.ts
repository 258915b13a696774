// The tensors of one model component, which a checkpoint may spread over several safetensors files
// (diffusers shards). Lookups go through one name → file map so callers never care which shard holds
// a tensor, and a missing tensor is reported with the nearest naming slip the checkpoint does contain.
import * as path from "node:path";
import { SafetensorsFile, TensorEntry } from "./safetensors";

/** Where one tensor lives: the opened file and its validated header entry. */
export interface TensorLocation {
  file: SafetensorsFile;
  entry: TensorEntry;
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
        index.set(entry.name, { file, entry });
      }
    }
    return new WeightSet(path.dirname(path.resolve(files[0])), opened, index);
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
    return this.locate(name).file.readFloat32(name);
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
    return [...this.index.keys()].filter((k) => k.endsWith(`.${name}`) || name.endsWith(`.${k}`)).sort().slice(0, 3);
  }
}
