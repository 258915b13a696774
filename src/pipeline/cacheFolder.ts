// What the cache folder holds and how to shrink it: inversions, built graphs, copies of checkpoint weights
// and generated models. Sizes count each file once however many graph folders link it. Pruning removes
// weight copies whose checkpoint is gone or changed, the graphs that link to such copies, and leftovers of
// killed processes; `all` removes every entry. Only a folder carrying the cache's mark (util/cacheDir.ts) is
// listed or pruned, only entries the cache recorded are deleted (by the names their records give), and a
// section or entry that is a link is never followed: anything else found is reported and left in place.
import * as fs from "node:fs";
import * as path from "node:path";
import { InversionCache } from "../fatezero/inversionCache";
import { RANDOM_MODEL_WRITER } from "../networks/randomModel";
import { graphFolders, type GraphFolder } from "../onnx/session";
import { sourceUnchanged, storedWeights, type StoredWeights } from "../onnx/weightStore";
import { markedCacheFolder, removeIfEmpty } from "../util/cacheDir";
import { removeOwnFolder } from "../util/folderOutput";
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
/** A generated model's folder in models/ (the tiny model; the bench's SD 1.5-sized one). */
const MODEL_ENTRY = /^(tiny-[0-9a-f]{12}|sd15-random-v\d+)$/;

/** Bytes of the files under `p`, each inode counted once (in `seen`); links are counted as links. */
function usage(p: string, seen: Set<number>): number {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (st.isDirectory()) return fs.readdirSync(p).reduce((sum, n) => sum + usage(path.join(p, n), seen), 0);
  if (seen.has(st.ino)) return 0;
  seen.add(st.ino);
  return st.size;
}

/** The section's folder when it is a real folder; a link there is reported through `note` and never entered. */
function sectionDir(cacheDir: string, name: string, note?: (line: string) => void): string | undefined {
  const dir = path.join(cacheDir, name);
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) note?.(`${dir} is a link (to ${fs.readlinkSync(dir)}): left alone, nothing is deleted through it`);
  else if (st && !st.isDirectory()) note?.(`${dir} is not a folder: left alone`);
  return st?.isDirectory() ? dir : undefined;
}

/** The generated model folders in models/ (real folders with the generator's name). */
function modelFolders(cacheDir: string): string[] {
  const dir = sectionDir(cacheDir, "models");
  if (dir === undefined) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && MODEL_ENTRY.test(e.name))
    .map((e) => path.join(dir, e.name));
}

/** The marked cache's sections with sizes and a line per entry. */
export function cacheSections(cacheDir: string): CacheSection[] {
  markedCacheFolder(cacheDir, false);
  const seen = new Set<number>();
  return SECTIONS.map((name) => {
    const notes: string[] = [];
    const dir = sectionDir(cacheDir, name, (line) => notes.push(line));
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
    } else if (name === "graphs") details = graphFolders(cacheDir).map((g) => path.basename(g.dir));
    else details = modelFolders(cacheDir).map((d) => path.basename(d));
    return { name, entries: details.length, bytes: dir === undefined ? 0 : usage(dir, seen), details: [...details, ...notes] };
  });
}

/**
 * Remove what is no longer useful (or, with `all`, every entry the cache recorded) from the marked cache;
 * returns the bytes freed. Whatever is kept because the cache did not record it is reported through `note`.
 */
export function pruneCache(cacheDir: string, all = false, note: (line: string) => void = () => undefined): number {
  const before = cacheSections(cacheDir).reduce((sum, s) => sum + s.bytes, 0);
  for (const name of SECTIONS) sectionDir(cacheDir, name, note);
  const weights = storedWeights(cacheDir);
  const doomed = all ? weights : weights.filter((s) => !sourceUnchanged(s));
  const doomedInodes = new Set(doomed.flatMap((s) => fs.lstatSync(s.path, { throwIfNoEntry: false })?.ino ?? []));
  for (const s of doomed) {
    // A link is removed as a link (its target is never touched); a folder under a copy's name is not ours.
    if (fs.lstatSync(s.path, { throwIfNoEntry: false })?.isDirectory() === false) fs.rmSync(s.path);
    fs.rmSync(`${s.path}.json`, { force: true });
  }
  // A graph folder is useless once a copy it links to is gone: its links would keep the old data alive.
  for (const g of graphFolders(cacheDir)) {
    if (all || linksTo(g, doomedInodes)) removeRecorded(g);
  }
  const inversions = new InversionCache(cacheDir); // removes leftovers of killed saves
  if (all) {
    for (const e of inversions.list()) inversions.removeEntry(e.id);
    for (const dir of modelFolders(cacheDir))
      if (!removeOwnFolder(dir, RANDOM_MODEL_WRITER)) note(`${dir}: no intact record of the model generator, kept`);
  }
  const store = sectionDir(cacheDir, "weights");
  const graphs = sectionDir(cacheDir, "graphs");
  if (store !== undefined) removeOrphans(store, /\.tmp-(\d+)$/);
  if (graphs !== undefined) removeOrphans(graphs, /\.tmp-(\d+)-\d+$/);
  if (all) {
    for (const name of SECTIONS) {
      const dir = sectionDir(cacheDir, name);
      if (dir === undefined) continue;
      removeIfEmpty(dir);
      if (fs.existsSync(dir))
        for (const left of fs.readdirSync(dir).sort()) note(`${path.join(dir, left)}: not recorded by the cache, kept`);
    }
  } else if (store !== undefined) {
    const recorded = new Set(weights.flatMap((s: StoredWeights) => [path.basename(s.path), `${path.basename(s.path)}.json`]));
    const unknown = fs.readdirSync(store).filter((n) => !recorded.has(n) && !/\.tmp-\d+$/.test(n));
    for (const n of unknown.sort()) note(`${path.join(store, n)}: not recorded by the cache, kept`);
  }
  const after = cacheSections(cacheDir).reduce((sum, s) => sum + s.bytes, 0);
  return before - after;
}

/** Whether a graph folder links to one of these copies (by inode; a missing file links to nothing). */
function linksTo(g: GraphFolder, inodes: Set<number>): boolean {
  return g.files.some((n) => {
    const st = fs.lstatSync(path.join(g.dir, n), { throwIfNoEntry: false });
    return st !== undefined && inodes.has(st.ino);
  });
}

/** Remove the names a graph folder's record accounts for, and the folder when nothing else is left in it. */
function removeRecorded(g: GraphFolder): void {
  for (const n of g.files) {
    const file = path.join(g.dir, n);
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isDirectory() === false) fs.rmSync(file);
  }
  removeIfEmpty(g.dir);
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}
