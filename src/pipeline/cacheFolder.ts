// What the cache folder holds and how to shrink it: inversions, built graphs, copies of checkpoint weights
// and generated models. Sizes count each file once however many graph folders link it. Pruning removes
// weight copies whose checkpoint is gone or changed, the graphs that link only to such copies, and
// leftovers of killed processes; `all` empties the cache. Nothing outside the cache folder is touched.
import * as fs from "node:fs";
import * as path from "node:path";
import { InversionCache } from "../fatezero/inversionCache";
import { sourceUnchanged, storedWeights, weightStoreDir } from "../onnx/weightStore";
import { removeOrphans } from "../util/orphans";

/** One part of the cache and its size. */
export interface CacheSection {
  name: "inversions" | "graphs" | "weights" | "models";
  entries: number;
  bytes: number;
  /** Lines describing the entries, for `cache list`. */
  details: string[];
}

const SECTIONS = ["inversions", "graphs", "weights", "models"] as const;

/** Bytes of the files under `p`, each inode counted once (in `seen`). */
function usage(p: string, seen: Set<number>): number {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (st.isDirectory()) return fs.readdirSync(p).reduce((sum, n) => sum + usage(path.join(p, n), seen), 0);
  if (seen.has(st.ino)) return 0;
  seen.add(st.ino);
  return st.size;
}

/** The cache's sections with sizes and a line per entry. */
export function cacheSections(cacheDir: string): CacheSection[] {
  const seen = new Set<number>();
  return SECTIONS.map((name) => {
    const dir = path.join(cacheDir, name);
    const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    let details: string[];
    if (name === "inversions") {
      details = new InversionCache(cacheDir)
        .list()
        .map(
          (e) =>
            `${e.id.slice(0, 12)}  ${e.key.frameCount}×${e.key.height}×${e.key.width}, ${e.key.steps} steps  ` +
            `${megabytes(e.bytes)}  "${e.key.prompt}"`,
        );
    } else if (name === "weights") {
      details = storedWeights(cacheDir).map(
        (s) => `${path.basename(s.path)}  ${megabytes(s.sourceSize)}  ${s.source}${sourceUnchanged(s) ? "" : "  (source gone or changed)"}`,
      );
    } else details = names.map((n) => n);
    const entries = name === "weights" ? storedWeights(cacheDir).length : name === "inversions" ? details.length : names.length;
    return { name, entries, bytes: usage(dir, seen), details };
  });
}

/** Remove what is no longer useful (or, with `all`, everything); returns the bytes freed. */
export function pruneCache(cacheDir: string, all = false): number {
  const before = cacheSections(cacheDir).reduce((sum, s) => sum + s.bytes, 0);
  if (all) {
    for (const name of SECTIONS) fs.rmSync(path.join(cacheDir, name), { recursive: true, force: true });
  } else {
    const stale = storedWeights(cacheDir).filter((s) => !sourceUnchanged(s));
    const staleInodes = new Set<number>();
    // Copies without a record (from an older layout of the store) can no longer be checked.
    const store = weightStoreDir(cacheDir);
    const recorded = new Set(storedWeights(cacheDir).map((s) => path.basename(s.path)));
    for (const n of fs.existsSync(store) ? fs.readdirSync(store) : []) {
      if (!n.endsWith(".json") && !/\.tmp-\d+$/.test(n) && !recorded.has(n)) {
        staleInodes.add(fs.statSync(path.join(store, n)).ino);
        fs.rmSync(path.join(store, n), { force: true });
      }
    }
    for (const s of stale) {
      const st = fs.statSync(s.path, { throwIfNoEntry: false });
      if (st) staleInodes.add(st.ino);
      fs.rmSync(s.path, { force: true });
      fs.rmSync(`${s.path}.json`, { force: true });
    }
    // A graph folder is useless once a copy it links to is gone: its links would keep the old data alive.
    const graphs = path.join(cacheDir, "graphs");
    for (const g of fs.existsSync(graphs) ? fs.readdirSync(graphs) : []) {
      const dir = path.join(graphs, g);
      const links = fs.readdirSync(dir).filter((n) => n.endsWith(".safetensors"));
      if (links.some((n) => staleInodes.has(fs.statSync(path.join(dir, n)).ino))) fs.rmSync(dir, { recursive: true, force: true });
    }
    // Leftovers of killed processes (the inversion cache removes its own when opened).
    new InversionCache(cacheDir);
    removeOrphans(store, /\.tmp-(\d+)$/);
    removeOrphans(graphs, /\.tmp-(\d+)-\d+$/);
  }
  const after = cacheSections(cacheDir).reduce((sum, s) => sum + s.bytes, 0);
  return before - after;
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}
