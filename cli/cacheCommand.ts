// `fatezero cache list|prune`: what the cache folder holds, and removing what is no longer useful.
import * as fs from "node:fs";
import { defaultCacheDir } from "../src/onnx/session";
import { cacheSections, pruneCache } from "../src/pipeline/cacheFolder";
import { checkFolderPath } from "../src/util/folderOutput";
import { InputError } from "../src/util/inputError";

/** The cache folder of the flags: a --cache-dir must exist (a typo would list or prune nothing, silently). */
function cacheFolder(flags: { cacheDir?: string }): string {
  if (flags.cacheDir === undefined) return defaultCacheDir();
  if (!fs.existsSync(flags.cacheDir)) throw new InputError(`--cache-dir ${flags.cacheDir}: no such folder`);
  checkFolderPath(flags.cacheDir, "--cache-dir");
  return flags.cacheDir;
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

/** Print each section of the cache with its size and entries. */
export function cacheListCommand(flags: { cacheDir?: string }): void {
  const dir = cacheFolder(flags);
  const sections = cacheSections(dir);
  console.log(`${dir}: ${megabytes(sections.reduce((s, x) => s + x.bytes, 0))}`);
  for (const s of sections) {
    console.log(`${s.name}: ${s.entries} entries, ${megabytes(s.bytes)}`);
    for (const line of s.details) console.log(`  ${line}`);
  }
}

/** Remove stale weight copies, their graphs and leftovers of killed runs (or everything with --all). */
export function cachePruneCommand(flags: { cacheDir?: string; all?: boolean }): void {
  const dir = cacheFolder(flags);
  console.log(`freed ${megabytes(pruneCache(dir, flags.all ?? false))} in ${dir}`);
}
