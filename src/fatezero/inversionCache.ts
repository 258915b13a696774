// The on-disk inversion cache: content-addressed entries that let a notebook re-run only the edit
// loop, survive a kernel restart, are published atomically and refuse, with a clear message, anything that
// is corrupt or was made for a different request.
//
// Layout: `<dir>/inversions/<sha256 of the key>/` holding `inversion.safetensors` (every array, F32) and
// `meta.json` (key, token count, group descriptors, shapes, the payload's byte size and sha256, the format
// version). The payload's own `__metadata__` repeats the layout, so an edited meta.json is caught as well.
//
// Size of one entry for 8 frames × 50 steps × 512² (latent 64², FateZero's queryLimit 32², SD 1.x, prompt of
// T token columns, maps stored for the five groups down 32² + down 16² + mid 8² + up 16² + up 32²):
//   latents 51 × [4, 8, 64, 64] f32      = 26,738,688 B
//   mask maps 50 × [8, 16·16, T] f32     =    409,600 B × T
//   group maps 50 × [8, 2624, T] f32     =  4,198,400 B × T   (2624 = 1024 + 256 + 64 + 256 + 1024 queries)
//   total 26,738,688 + 4,608,000 × T B:  ≈ 100.5 MB for T = 16, ≈ 381.6 MB for the maximum T = CLIP_TOKENS.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultCacheDir } from "../onnx/session";
import { isMarkedCache, markedCacheFolder, removeIfEmpty } from "../util/cacheDir";
import { removeOrphans } from "../util/orphans";
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from "../checkpoint/safetensors";
import type { InversionKey, InversionRecord } from "./inversionRecord";
import {
  canonicalJson,
  FORMAT,
  isRegularFile,
  keyDifferences,
  layoutOf,
  layoutPart,
  normalizeKey,
  parseMeta,
  recordArrays,
  recordFromArrays,
  SHA256_HEX,
  tensorPlan,
  VERSION,
  type Meta,
} from "./inversionMeta";

const PAYLOAD = "inversion.safetensors";
const META = "meta.json";
const ENTRY_NAME = SHA256_HEX;
const TMP_PREFIX = ".tmp-";
/** A save's temporary folder: `.tmp-<id>-<pid>-<random>`. */
const ORPHAN = /^\.tmp-[0-9a-f]{64}-(\d+)-[0-9a-f]+$/;

/** One entry as `list()` reports it. */
export interface CacheEntryInfo {
  id: string;
  key: InversionKey;
  /** Bytes on disk (payload and meta.json). */
  bytes: number;
  created: Date;
}

/** The inversion cache in one folder; see the file comment for the layout and entry sizes. */
export class InversionCache {
  private readonly root: string;

  /** The cache under `dir` (default: $FATEZERO_CACHE or ~/.cache/fatezero, shared with the graph cache). */
  constructor(private readonly dir: string = defaultCacheDir()) {
    this.root = path.join(dir, "inversions");
    // Saves of processes that were killed leave their temporary folders (hundreds of MB for SD): remove them,
    // but only in a folder marked as the cache and never through a link (a mistyped --cache-dir is nobody's to clean).
    if (isMarkedCache(dir) && fs.lstatSync(this.root, { throwIfNoEntry: false })?.isDirectory()) removeOrphans(this.root, ORPHAN);
  }

  /** The content address of a key: sha256 hex of its canonical JSON (sorted keys) and the format version. */
  static idOf(key: InversionKey): string {
    const body = canonicalJson({ format: FORMAT, version: VERSION, key: normalizeKey(key, "key") });
    return crypto.createHash("sha256").update(body, "utf8").digest("hex");
  }

  /** Whether an entry for the key is present (not verified; `load` verifies). */
  has(key: InversionKey): boolean {
    return isRegularFile(path.join(this.entryDir(InversionCache.idOf(key)), META));
  }

  /** The verified record for a key, or undefined when the cache has none. */
  load(key: InversionKey): InversionRecord | undefined {
    const id = InversionCache.idOf(key);
    const dir = this.entryDir(id);
    if (!fs.existsSync(dir)) return undefined;
    return readEntry(dir, normalizeKey(key, "key"), id);
  }

  /** Store a record atomically and return its entry folder; an existing intact entry for the key is kept. */
  save(record: InversionRecord): string {
    const key = normalizeKey(record.key, "record.key");
    const layout = layoutOf(record, key);
    const id = InversionCache.idOf(key);
    const final = this.entryDir(id);
    markedCacheFolder(this.dir, true);
    fs.mkdirSync(this.root, { recursive: true });
    const tmp = this.tmpDir(id);
    fs.mkdirSync(tmp);
    try {
      const arrays = recordArrays(record);
      const tensors: TensorToWrite[] = tensorPlan(layout).map((t, i) => ({
        ...t,
        dtype: "F32",
        data: () => new Uint8Array(arrays[i].buffer, arrays[i].byteOffset, arrays[i].byteLength),
      }));
      const payload = path.join(tmp, PAYLOAD);
      writeSafetensors(payload, tensors, { format: FORMAT, version: String(VERSION), layout: canonicalJson(layout) });
      const meta: Meta = {
        format: FORMAT,
        version: VERSION,
        created: new Date().toISOString(),
        ...layout,
        payload: { bytes: fs.statSync(payload).size, sha256: sha256File(payload) },
      };
      writeDurably(path.join(tmp, META), `${JSON.stringify(meta, null, 2)}\n`);
      this.publish(tmp, final, id);
    } finally {
      // After a successful publish the folder is gone; otherwise this drops our partial or losing copy.
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return final;
  }

  /** Load an entry folder named by the user; throws when it is not an entry or was made for another key. */
  loadFrom(entryDir: string, expected?: InversionKey): InversionRecord {
    let real: string;
    try {
      real = fs.realpathSync(entryDir);
    } catch {
      throw new Error(`${entryDir}: no such inversion cache entry folder`);
    }
    if (!fs.statSync(real).isDirectory())
      throw new Error(`${entryDir} is not a folder: an inversion cache entry is a folder holding ${META} and ${PAYLOAD}`);
    if (!isRegularFile(path.join(real, META))) throw new Error(`${entryDir} is not an inversion cache entry: it has no ${META}`);
    return readEntry(real, expected === undefined ? undefined : normalizeKey(expected, "expected key"));
  }

  /** The entries with their sizes, oldest first; also deletes temporary folders of saves whose process is gone. */
  list(): CacheEntryInfo[] {
    if (!fs.lstatSync(this.root, { throwIfNoEntry: false })?.isDirectory()) return [];
    if (isMarkedCache(this.dir)) removeOrphans(this.root, ORPHAN);
    const out: CacheEntryInfo[] = [];
    for (const dirent of fs.readdirSync(this.root, { withFileTypes: true })) {
      const dir = path.join(this.root, dirent.name);
      if (dirent.name.startsWith(TMP_PREFIX)) continue;
      if (!ENTRY_NAME.test(dirent.name) || !dirent.isDirectory()) continue;
      let meta: Meta;
      try {
        meta = parseMeta(path.join(dir, META));
      } catch {
        continue;
      }
      const bytes = [PAYLOAD, META].reduce(
        (sum, name) => sum + (isRegularFile(path.join(dir, name)) ? fs.statSync(path.join(dir, name)).size : 0),
        0,
      );
      out.push({ id: dirent.name, key: meta.key, bytes, created: new Date(meta.created) });
    }
    return out.sort((a, b) => a.created.getTime() - b.created.getTime());
  }

  /** Delete the entry for a key; returns whether there was one. */
  remove(key: InversionKey): boolean {
    const id = InversionCache.idOf(key);
    const aside = this.tmpDir(id);
    try {
      // Moving it away first means a concurrent load sees the whole entry or none of it.
      fs.renameSync(this.entryDir(id), aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
    fs.rmSync(aside, { recursive: true, force: true });
    return true;
  }

  /** Delete an entry `list()` reported: only its own two files, and its folder when nothing else is left in it. */
  removeEntry(id: string): void {
    const dir = this.entryDir(id);
    for (const name of [META, PAYLOAD]) if (isRegularFile(path.join(dir, name))) fs.rmSync(path.join(dir, name));
    removeIfEmpty(dir);
  }

  /** Rename a finished temporary folder to its final name, resolving a race with another writer. */
  private publish(tmp: string, final: string, id: string): void {
    try {
      fs.renameSync(tmp, final);
      return;
    } catch (e) {
      if (!fs.existsSync(final)) throw e;
    }
    try {
      verifyEntry(final, undefined, id);
      return;
    } catch {
      // A damaged entry would otherwise shadow every later save of this key: swap ours in.
    }
    const aside = this.tmpDir(id);
    try {
      fs.renameSync(final, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    try {
      fs.renameSync(tmp, final);
    } catch (e) {
      if (!fs.existsSync(final)) throw e;
    }
    fs.rmSync(aside, { recursive: true, force: true });
  }

  private entryDir(id: string): string {
    if (!ENTRY_NAME.test(id)) throw new Error(`invalid inversion cache id ${JSON.stringify(id)}`);
    return path.join(this.root, id);
  }

  private tmpDir(id: string): string {
    return path.join(this.root, `${TMP_PREFIX}${id}-${process.pid}-${crypto.randomBytes(6).toString("hex")}`);
  }
}

/** Verify an entry folder and read its arrays; `id`, when given, must be the folder's content address. */
function readEntry(dir: string, expected: InversionKey | undefined, id?: string): InversionRecord {
  const meta = verifyEntry(dir, expected, id);
  const payload = path.join(dir, PAYLOAD);
  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.open(payload);
  } catch (e) {
    throw corrupt(dir, (e as Error).message);
  }
  if (file.metadata.layout !== canonicalJson(layoutPart(meta))) throw corrupt(dir, `${META} does not describe ${PAYLOAD} (was it edited?)`);
  const arrays = tensorPlan(meta).map(({ name, shape }) => {
    const entry = file.entries.get(name);
    if (!entry) throw corrupt(dir, `${PAYLOAD} has no tensor "${name}"`);
    if (entry.dtype !== "F32" || entry.shape.join() !== shape.join()) {
      throw corrupt(dir, `tensor "${name}" is ${entry.dtype} [${entry.shape.join(", ")}], expected F32 [${shape.join(", ")}]`);
    }
    return file.readFloat32(name);
  });
  return recordFromArrays(layoutPart(meta), arrays);
}

/** Check meta.json, the key and the payload's size and hash; returns the parsed meta. */
function verifyEntry(dir: string, expected: InversionKey | undefined, id?: string): Meta {
  let meta: Meta;
  try {
    meta = parseMeta(path.join(dir, META));
  } catch (e) {
    throw corrupt(dir, (e as Error).message);
  }
  if (id !== undefined && InversionCache.idOf(meta.key) !== id)
    throw corrupt(dir, `the key in ${META} does not belong to this folder (was it edited?)`);
  if (expected !== undefined) {
    const diffs = keyDifferences(meta.key, expected);
    if (diffs.length > 0) {
      throw new Error(`inversion cache entry ${dir} was made for a different request:\n${diffs.map((d) => `  ${d}`).join("\n")}`);
    }
  }
  const payload = path.join(dir, PAYLOAD);
  if (!isRegularFile(payload)) throw corrupt(dir, `${PAYLOAD} is missing`);
  const size = fs.statSync(payload).size;
  if (size !== meta.payload.bytes) throw corrupt(dir, `${PAYLOAD} is ${size} bytes, ${META} says ${meta.payload.bytes}`);
  if (sha256File(payload) !== meta.payload.sha256) throw corrupt(dir, `${PAYLOAD} does not match the sha256 in ${META}`);
  return meta;
}

function corrupt(dir: string, problem: string): Error {
  return new Error(
    `inversion cache entry ${dir} is corrupt: ${problem}. It can be deleted (the inversion is then recomputed): rm -r "${dir}"`,
  );
}

function sha256File(file: string): string {
  const hash = crypto.createHash("sha256");
  const buf = Buffer.alloc(4 * 1024 * 1024);
  const fd = fs.openSync(file, "r");
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

/** Write a file and fsync it, so the folder rename that publishes the entry never precedes its contents. */
function writeDurably(file: string, text: string): void {
  const fd = fs.openSync(file, "w");
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
