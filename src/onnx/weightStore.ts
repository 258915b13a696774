// Checkpoint files as ONNX Runtime needs them: inside the graph cache, because it refuses external data
// outside a model's folder (it resolves symlinks too). Each file is copied into `<cache>/weights/` once —
// a copy-on-write clone where the file system offers one (btrfs, XFS), a full copy elsewhere — never hard
// linked: a link would share the user's file, so a chmod of the cache would change the model, and deleting
// the model would free nothing. A record beside each copy holds the source's identity and the content's
// sha256, which is also the model's weight identity in cache keys; a copy whose size or modification time
// changed is made again. `fatezero cache prune` removes copies whose source is gone or changed. A copy's
// path is always where its record lies, never what the record says: a cache folder that was moved, or reached
// through a link, or a record that was edited, must not point a removal outside the store.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { markedCacheFolder } from "../util/cacheDir";
import { removeOrphans } from "../util/orphans";

/** What is known about one stored copy. */
export interface StoredWeights {
  /** The copy in the cache (beside its record). */
  path: string;
  /** The checkpoint file it was copied from, and that file's identity then. */
  source: string;
  sourceSize: number;
  sourceMtimeMs: number;
  /** sha256 of the content. */
  sha256: string;
  /** The copy's own modification time, to notice a changed copy. */
  copyMtimeMs: number;
}

const TMP = /\.tmp-(\d+)$/;

/** The folder of the weight copies. */
export function weightStoreDir(cacheDir: string): string {
  return path.join(cacheDir, "weights");
}

/** The cache's copy of a checkpoint file, made (and hashed) on first use; a changed copy is made again. */
export function storeWeights(source: string, cacheDir: string): StoredWeights {
  const real = fs.realpathSync(source);
  const st = fs.statSync(real);
  const key = crypto.createHash("sha256").update(`${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}`).digest("hex").slice(0, 20);
  const dir = weightStoreDir(cacheDir);
  const copy = path.join(dir, `${key}${path.extname(real)}`);
  const record = `${copy}.json`;
  const known = readRecord(record);
  if (known && fs.existsSync(copy)) {
    const now = fs.statSync(copy);
    if (now.size === known.sourceSize && now.mtimeMs === known.copyMtimeMs) return known;
  }
  fs.mkdirSync(weightStoreDir(markedCacheFolder(cacheDir, true)), { recursive: true });
  if (!fs.lstatSync(dir).isSymbolicLink()) removeOrphans(dir, TMP); // never clean through a link out of the cache
  const tmp = `${copy}.tmp-${process.pid}`;
  try {
    fs.copyFileSync(real, tmp, fs.constants.COPYFILE_FICLONE);
    const sha256 = hashFile(tmp);
    fs.renameSync(tmp, copy);
    const recorded: Omit<StoredWeights, "path"> = {
      source: real,
      sourceSize: st.size,
      sourceMtimeMs: st.mtimeMs,
      sha256,
      copyMtimeMs: fs.statSync(copy).mtimeMs,
    };
    fs.writeFileSync(`${record}.tmp-${process.pid}`, `${JSON.stringify(recorded, null, 1)}\n`);
    fs.renameSync(`${record}.tmp-${process.pid}`, record);
    return { path: copy, ...recorded };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Every copy in the store with its record (records that cannot be read are skipped; a store reached through a link has none). */
export function storedWeights(cacheDir: string): StoredWeights[] {
  const dir = weightStoreDir(cacheDir);
  if (!fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".json"))
    .flatMap((n) => {
      const r = readRecord(path.join(dir, n));
      return r ? [r] : [];
    });
}

/** Whether a copy's source still exists unchanged. */
export function sourceUnchanged(s: StoredWeights): boolean {
  const st = fs.statSync(s.source, { throwIfNoEntry: false });
  return st !== undefined && st.size === s.sourceSize && st.mtimeMs === s.sourceMtimeMs;
}

/** The record `file` (`<copy>.json`) with its copy's path, or undefined when it cannot be read. */
function readRecord(file: string): StoredWeights | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    const numbers = [r.sourceSize, r.sourceMtimeMs, r.copyMtimeMs].every((n) => typeof n === "number");
    if (typeof r.sha256 !== "string" || typeof r.source !== "string" || !numbers) return undefined;
    const { source, sourceSize, sourceMtimeMs, sha256, copyMtimeMs } = r as unknown as StoredWeights;
    return { path: file.slice(0, -".json".length), source, sourceSize, sourceMtimeMs, sha256, copyMtimeMs };
  } catch {
    return undefined;
  }
}

/** sha256 of a file, read in 8 MB pieces. */
function hashFile(file: string): string {
  const h = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  const buf = Buffer.alloc(8 << 20);
  try {
    for (let n = fs.readSync(fd, buf); n > 0; n = fs.readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}
