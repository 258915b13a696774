// `fatezero cache list|prune`: what the cache folder holds, and removing what is no longer useful.
import { defaultCacheDir } from "../src/onnx/session";
import { cacheSections, pruneCache } from "../src/pipeline/cacheFolder";

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

/** Print each section of the cache with its size and entries. */
export function cacheListCommand(flags: { cacheDir?: string }): void {
  const dir = flags.cacheDir ?? defaultCacheDir();
  const sections = cacheSections(dir);
  console.log(`${dir}: ${megabytes(sections.reduce((s, x) => s + x.bytes, 0))}`);
  for (const s of sections) {
    console.log(`${s.name}: ${s.entries} entries, ${megabytes(s.bytes)}`);
    for (const line of s.details) console.log(`  ${line}`);
  }
}

/** Remove stale weight copies, their graphs and leftovers of killed runs (or everything with --all). */
export function cachePruneCommand(flags: { cacheDir?: string; all?: boolean }): void {
  const dir = flags.cacheDir ?? defaultCacheDir();
  console.log(`freed ${megabytes(pruneCache(dir, flags.all ?? false))} in ${dir}`);
}
