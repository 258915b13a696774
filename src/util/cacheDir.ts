// The cache folder's mark. The cache writes a CACHEDIR.TAG (the Cache Directory Tagging convention, which
// backup tools and other caches respect) whenever it makes the folder, and nothing that lists or deletes cache
// entries works in a folder without it: `--cache-dir ~` or FATEZERO_CACHE=. must never make the user's own
// models/ or weights/ look like cache entries. A folder without the mark is adopted (marked) only when it is
// empty or holds nothing but what the cache itself names that way (a cache of a version before the mark).
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError } from "./inputError";

/** The tag file's name (https://bford.info/cachedir/). */
export const CACHEDIR_TAG = "CACHEDIR.TAG";
/** What the tag file's content must begin with. */
export const CACHEDIR_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55";

/** The cache's sections, and the names their writers give entries (final names and those of killed writers' leftovers). */
const SHAPES: Record<string, RegExp> = {
  inversions: /^(\.tmp-)?[0-9a-f]{64}(-\d+-[0-9a-f]+)?$/,
  graphs: /^[\w.]+-[0-9a-f]{20}(\.tmp-\d+-\d+)?$/,
  weights: /^[0-9a-f]{20}(\.\w+)?(\.json)?(\.tmp-\d+)?$/,
  models: /^\.?(tiny-[0-9a-f]{12}|sd15-random-v\d+)(\.\d+\.[0-9a-f]{8}(\.old)?\.staging)?$/,
};

/** Whether `dir` carries the cache's mark. */
export function isMarkedCache(dir: string): boolean {
  const tag = path.join(dir, CACHEDIR_TAG);
  if (!fs.lstatSync(tag, { throwIfNoEntry: false })?.isFile()) return false;
  const fd = fs.openSync(tag, "r");
  try {
    const head = Buffer.alloc(CACHEDIR_SIGNATURE.length);
    return fs.readSync(fd, head, 0, head.length, 0) === head.length && head.toString("latin1") === CACHEDIR_SIGNATURE;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The cache folder `dir`, marked: made (with its mark) when `create` and missing, adopted when empty or
 * holding only cache-shaped entries; anything else is refused (InputError naming `what`: the flag or variable
 * that chose the folder, by default both).
 */
export function markedCacheFolder(dir: string, create: boolean, what = "the cache folder (--cache-dir or FATEZERO_CACHE)"): string {
  if (dir.trim() === "") throw new InputError(`${what}: the path is empty (give a folder)`);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir, { throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${what}: ${dir} is not a folder (${code === "ENOTDIR" ? "a file is on its path" : code})`);
  }
  if (!st && !create) throw new InputError(`${what} ${dir}: no such folder`);
  if (st && !st.isDirectory()) throw new InputError(`${what}: ${dir} is not a folder`);
  if (!st) fs.mkdirSync(dir, { recursive: true });
  if (isMarkedCache(dir)) return dir;
  const foreign = fs
    .readdirSync(dir)
    .sort()
    .find((name) => !cacheShaped(dir, name));
  if (foreign !== undefined) {
    throw new InputError(
      `${what} ${dir}: holds ${foreign} and no ${CACHEDIR_TAG}, so it is not a fatezero cache; give a new or empty folder ` +
        `(or, if it is one, mark it: printf '${CACHEDIR_SIGNATURE}\\n' > ${path.join(dir, CACHEDIR_TAG)})`,
    );
  }
  const text = `${CACHEDIR_SIGNATURE}\n# This file is a cache directory tag created by fatezero.\n# For information about cache directory tags, see https://bford.info/cachedir/\n`;
  try {
    fs.writeFileSync(path.join(dir, CACHEDIR_TAG), text, { flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e; // another process marked it first
  }
  return dir;
}

/** Whether `name` in the cache folder is a section (a real folder) holding only names the cache gives its entries. */
function cacheShaped(dir: string, name: string): boolean {
  const shape = SHAPES[name];
  const section = path.join(dir, name);
  if (shape === undefined || !fs.lstatSync(section).isDirectory()) return false;
  return fs.readdirSync(section).every((entry) => shape.test(entry));
}

/** Remove the folder `dir` if nothing is left in it (a file the user put there keeps it). */
export function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOENT" && code !== "ENOTDIR") throw e;
  }
}
