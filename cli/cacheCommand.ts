// `fatezero cache list|prune`: what the cache folder holds, and removing what is no longer useful. Both work
// only on a folder the cache marked as its own (CACHEDIR.TAG): pointed at a home folder or a project they
// refuse, naming the flag or variable that chose the folder.
import * as fs from "node:fs";
import { defaultCacheDir } from "../src/onnx/session";
import { cacheSections, pruneCache } from "../src/pipeline/cacheFolder";
import { markedCacheFolder } from "../src/util/cacheDir";

/**
 * The marked cache folder of the flags (--cache-dir, else $FATEZERO_CACHE, else the default), refused with a
 * message naming its source; undefined when the default folder was never made (nothing is cached yet).
 */
function cacheFolder(flags: { cacheDir?: string }): string | undefined {
  const variable = process.env.FATEZERO_CACHE;
  if (flags.cacheDir !== undefined) return markedCacheFolder(flags.cacheDir, false, "--cache-dir");
  if (variable) return markedCacheFolder(variable, false, "FATEZERO_CACHE");
  const dir = defaultCacheDir();
  if (!fs.existsSync(dir)) return undefined;
  return markedCacheFolder(dir, false, "the default cache folder (choose another with --cache-dir or FATEZERO_CACHE)");
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

/** Print each section of the cache with its size and entries. */
export function cacheListCommand(flags: { cacheDir?: string }): void {
  const dir = cacheFolder(flags);
  if (dir === undefined) {
    console.log(`${defaultCacheDir()}: nothing cached yet`);
    return;
  }
  const sections = cacheSections(dir);
  console.log(`${dir}: ${megabytes(sections.reduce((s, x) => s + x.bytes, 0))}`);
  for (const s of sections) {
    console.log(`${s.name}: ${s.entries} entries, ${megabytes(s.bytes)}`);
    for (const line of s.details) console.log(`  ${line}`);
  }
}

/** Remove stale weight copies, their graphs and leftovers of killed runs (or every recorded entry with --all). */
export function cachePruneCommand(flags: { cacheDir?: string; all?: boolean }): void {
  const dir = cacheFolder(flags);
  if (dir === undefined) {
    console.log(`${defaultCacheDir()}: nothing cached yet`);
    return;
  }
  const freed = pruneCache(dir, flags.all ?? false, (line) => console.log(`note: ${line}`));
  console.log(`freed ${megabytes(freed)} in ${dir}`);
}
