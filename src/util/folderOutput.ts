// Every folder a command writes goes through here. It is written whole or not at all: built in a staging
// folder beside the target, recorded in a manifest (folderManifest.ts) and renamed into place, so an
// interrupted or failed write never leaves a half-written folder or mixes old files with new ones. An existing
// folder is replaced only when it is empty or its manifest shows that the same writer made every file in it,
// unchanged; anything else — a user's folder, a file the user added inside an earlier output, a link (followed
// nowhere), the current folder, an empty path — is refused before any work, naming the flag.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { MANIFEST, ownedBy, writeManifest } from "./folderManifest";
import { InputError } from "./inputError";
import { removeOrphans } from "./orphans";

/** A checked output folder: where, how messages name it, who writes it, and what is there now. */
export interface OutputFolder {
  target: string;
  what: string;
  writer: string;
  /** Nothing, an empty folder, or a folder this writer wrote (verified), which is replaced. */
  replacing: "none" | "empty" | "ours";
  /** Recognises this writer's output from a version that wrote no manifest (checked again before replacing). */
  earlier?: (dir: string) => boolean;
}

/** Choices for `outputFolder`. */
export interface OutputFolderOptions {
  /** Refuse any non-empty folder with this advice (e.g. a flag that allows replacing), before looking inside. */
  refuseFull?: string;
  /** Also replace a folder an earlier version of the writer made without a manifest, when this says it is one. */
  earlier?: (dir: string) => boolean;
  /** What to tell the user when the folder is not ours (default: give a new or empty folder). */
  advice?: string;
}

/**
 * Check `dir` as an output folder of `writer` before any work; refused (InputError naming `what`, e.g. "--out")
 * when it is empty, a link, a file, below a file, in a folder we cannot write, the current folder or one
 * holding it, or a non-empty folder that is not `writer`'s own unchanged output.
 */
export function outputFolder(dir: string, what: string, writer: string, options: OutputFolderOptions = {}): OutputFolder {
  if (dir.trim() === "") throw new InputError(`${what}: the path is empty (give a folder)`);
  const target = path.resolve(dir);
  const named = `${what} ${dir}`;
  const st = lstatIfAny(target);
  if (st?.isSymbolicLink())
    throw new InputError(`${named}: is a symbolic link (to ${fs.readlinkSync(target)}); give the folder itself, not a link`);
  if (st && !st.isDirectory()) throw new InputError(`${named}: exists and is not a folder`);
  checkFolderPath(target, named);
  checkWritableFolder(st ? path.dirname(target) : nearestExisting(target), named);
  const cwd = path.resolve(".");
  if (st && (cwd === target || cwd.startsWith(target + path.sep)))
    throw new InputError(`${named}: is or holds the current folder; give another folder`);
  if (!st) return { target, what: named, writer, replacing: "none" };
  const entries = fs.readdirSync(target).sort();
  if (entries.length === 0) return { target, what: named, writer, replacing: "empty" };
  const shown = entries.filter((e) => e !== MANIFEST);
  const holds = `holds ${shown.slice(0, 3).join(", ")}${shown.length > 3 ? ", …" : ""}`;
  if (options.refuseFull !== undefined) throw new InputError(`${named}: ${holds}; ${options.refuseFull}`);
  const verdict = ownedBy(target, writer);
  if (verdict !== true && !isEarlier(target, options.earlier))
    throw new InputError(`${named}: ${holds}; ${verdict}: ${options.advice ?? "give a new or empty folder"}`);
  return { target, what: named, writer, replacing: "ours", earlier: options.earlier };
}

/** Refuse (InputError naming `what`) an empty path, or one with a file on it: `dir`, or the nearest part of it that exists, must be a folder. */
export function checkFolderPath(dir: string, what: string): void {
  if (dir.trim() === "") throw new InputError(`${what}: the path is empty (give a folder)`);
  const existing = nearestExisting(dir);
  if (!fs.statSync(existing, { throwIfNoEntry: false })?.isDirectory()) throw new InputError(`${what}: ${existing} is not a folder`);
}

/** Refuse (InputError naming `what`) writing about `bytes` below `target` when its file system has less free. */
export function checkFreeSpace(target: string, bytes: number, what: string): void {
  const at = nearestExisting(target);
  const fsInfo = fs.statfsSync(at);
  const free = fsInfo.bavail * fsInfo.bsize;
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  if (free < bytes) throw new InputError(`${what}: needs about ${gb(bytes)} in ${at}, which has ${gb(free)} free`);
}

/** Delete `dir` if it is `writer`'s own unchanged output (its manifest says so); returns whether it did. */
export function removeOwnFolder(dir: string, writer: string): boolean {
  if (!fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() || ownedBy(dir, writer) !== true) return false;
  fs.rmSync(dir, { recursive: true });
  return true;
}

/**
 * Build the folder with `build(staging)` and move it onto the checked target; returns what `build` returned.
 * A killed writer's staging folder is removed by the next write beside it.
 */
export async function writeFolder<T>(out: OutputFolder, build: (staging: string) => Promise<T>): Promise<T> {
  const staging = newStagingFolder(out.target);
  let built: T;
  try {
    built = await build(staging);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  return publish(staging, out, () => built);
}

/** `writeFolder` for a synchronous `build`. */
export function writeFolderSync<T>(out: OutputFolder, build: (staging: string) => T): T {
  const staging = newStagingFolder(out.target);
  return publish(staging, out, () => build(staging));
}

/** Run `build`, record the manifest and move the staging folder into place; on any failure, remove it. */
function publish<T>(staging: string, out: OutputFolder, build: () => T): T {
  try {
    const built = build();
    writeManifest(staging, out.writer);
    moveIntoPlace(staging, out);
    return built;
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** A staging folder is `.<name>.<pid>.<8 hex>[.old].staging` beside its target; the first group is the writer's PID. */
const STAGING = /^\..+\.(\d+)\.[0-9a-f]{8}(\.old)?\.staging$/;

function newStagingFolder(target: string): string {
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  removeOrphans(parent, STAGING);
  const staging = path.join(parent, `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.staging`);
  fs.mkdirSync(staging);
  return staging;
}

/** Rename the finished folder onto the target, checking again what is there (the user may have changed it meanwhile). */
function moveIntoPlace(staging: string, out: OutputFolder): void {
  const { target } = out;
  if (out.replacing !== "ours") {
    try {
      if (out.replacing === "empty") fs.rmdirSync(target); // fails when something was put there since the check
      fs.renameSync(staging, target);
    } catch (e) {
      throw new InputError(`${out.what}: changed while it was being written (${(e as NodeJS.ErrnoException).code}); nothing was replaced`);
    }
    return;
  }
  const verdict = ownedBy(target, out.writer);
  if (verdict !== true && !isEarlier(target, out.earlier))
    throw new InputError(`${out.what}: changed while it was being written (${verdict}); nothing was replaced`);
  const old = staging.replace(/\.staging$/, ".old.staging");
  fs.renameSync(target, old);
  try {
    fs.renameSync(staging, target);
  } catch (e) {
    fs.renameSync(old, target);
    throw e;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/** Whether `dir` is an earlier version's output: only a folder without a manifest (one with it is judged by it alone). */
function isEarlier(dir: string, earlier: ((dir: string) => boolean) | undefined): boolean {
  return earlier !== undefined && !lstatIfAny(path.join(dir, MANIFEST)) && earlier(dir);
}

/** The nearest of `p` and its parents that exists (a dangling link counts as existing, and is then no folder). */
function nearestExisting(p: string): string {
  let existing = path.resolve(p);
  while (!lstatIfAny(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  return existing;
}

/** `lstat`, or undefined when nothing is there (also below a file: ENOTDIR). */
function lstatIfAny(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw e;
  }
}

/** Refuse a folder a file cannot be made in (tried for real: permission bits say nothing on a read-only mount or to root). */
export function checkWritableFolder(dir: string, what: string): void {
  const probe = path.join(dir, `.fatezero-write-check-${process.pid}`);
  try {
    fs.writeFileSync(probe, "", { flag: "wx" });
    fs.rmSync(probe);
  } catch (e) {
    throw new InputError(`${what}: cannot write in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
