// An output folder written whole or not at all: it is built in a staging folder beside the target and renamed
// into place, so an interrupted or failed write never leaves a half-written folder or mixes old files with
// new ones, and a folder is only replaced when its owner allows it.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError } from "./inputError";
import { removeOrphans } from "./orphans";

/** What is at the target: nothing, an empty folder, or a folder with entries that will be replaced. */
export type FolderTarget = "none" | "empty" | "full";

/**
 * What is at `target`, refused (InputError, before any work) when it is a file, or a non-empty folder that
 * `replaceable` does not accept (it returns why not); `what` names the target in messages (e.g. "--out clip").
 */
export function folderTarget(target: string, what: string, replaceable: (entries: string[]) => string | true): FolderTarget {
  if (!fs.existsSync(target)) return "none";
  if (!fs.statSync(target).isDirectory()) throw new InputError(`${what}: exists and is not a folder`);
  const entries = fs.readdirSync(target).sort();
  if (entries.length === 0) return "empty";
  const verdict = replaceable(entries);
  if (verdict === true) return "full";
  throw new InputError(`${what}: holds ${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", …" : ""}; ${verdict}`);
}

/** Refuse (InputError naming `what`) a folder path with a file on it: `dir`, or the nearest part of it that exists, must be a folder. */
export function checkFolderPath(dir: string, what: string): void {
  let existing = path.resolve(dir);
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  if (!fs.statSync(existing).isDirectory()) throw new InputError(`${what}: ${existing} is not a folder`);
}

/** A staging folder is `.<name>.<pid>.<8 hex>[.old].staging` beside its target; the first group is the writer's PID. */
const STAGING = /^\..+\.(\d+)\.[0-9a-f]{8}(\.old)?\.staging$/;

/**
 * Build the folder with `build(staging)` and move it onto `target` (which `folderTarget` has checked); the
 * staging folder is removed on failure, and one left by a killed writer is removed by the next write beside it.
 */
export async function writeFolder(target: string, replacing: FolderTarget, build: (staging: string) => Promise<void>): Promise<void> {
  const staging = newStagingFolder(target);
  try {
    await build(staging);
    moveIntoPlace(staging, target, replacing);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** `writeFolder` for a synchronous `build`. */
export function writeFolderSync(target: string, replacing: FolderTarget, build: (staging: string) => void): void {
  const staging = newStagingFolder(target);
  try {
    build(staging);
    moveIntoPlace(staging, target, replacing);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

function newStagingFolder(target: string): string {
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  removeOrphans(parent, STAGING);
  const staging = path.join(parent, `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.staging`);
  fs.mkdirSync(staging);
  return staging;
}

/** Rename the finished folder onto the target; a replaced folder is moved aside first and restored on failure. */
function moveIntoPlace(staging: string, target: string, replacing: FolderTarget): void {
  if (replacing === "empty") fs.rmdirSync(target);
  if (replacing !== "full") {
    fs.renameSync(staging, target);
    return;
  }
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
