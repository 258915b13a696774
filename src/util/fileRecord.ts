// Single files a command writes into a folder that stays the user's (`edit --out clip.mp4` in their videos
// folder, export-html's page beside the notebook): `.fatezero-files.json` in that folder names each file we
// wrote there with its writer, size and sha256. An existing file is replaced only when the record lists it,
// from the same writer, unchanged; a file of the user's, a link or a file edited since is refused before any
// work. A lost record (a writer killed between writing and recording) only makes a later run refuse, never
// replace.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { sha256File } from "./folderManifest";
import { InputError } from "./inputError";
import { removeOrphans } from "./orphans";

/** The record's file name, in the folder of the files it describes. */
export const FILE_RECORD = ".fatezero-files.json";
const FORMAT = "fatezero-files";
const VERSION = 1;
/** The record's temporary name while it is rewritten; the first group is the writer's PID. */
const TEMP = /^\.fatezero-files\.json\.(\d+)\.[0-9a-f]{8}\.tmp$/;

type Entries = Record<string, { writer: string; size: number; sha256: string }>;

/**
 * Refuse (InputError naming `what`, e.g. "--out x.mp4") writing `file` when something is there that `writer`
 * did not write (or that changed since), or when the folder's record file is not ours to update. A file
 * byte-identical to `sameAs` (what will be written, when known beforehand) is replaced too: nothing is lost.
 */
export function checkReplaceable(file: string, writer: string, what: string, sameAs?: string): void {
  const entries = readRecord(path.dirname(file), what);
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return;
  const advice = "move it away, or write elsewhere";
  if (st.isSymbolicLink()) throw new InputError(`${what}: ${file} is a symbolic link (to ${fs.readlinkSync(file)}); ${advice}`);
  if (!st.isFile()) throw new InputError(`${what}: ${file} exists and is not a file; ${advice}`);
  const known = entries[path.basename(file)];
  if (sameAs !== undefined && fs.readFileSync(file).equals(fs.readFileSync(sameAs))) return;
  if (known === undefined || known.writer !== writer)
    throw new InputError(`${what}: ${file} exists and ${writer} did not write it (no entry in ${FILE_RECORD}); ${advice}`);
  if (st.size !== known.size || sha256File(file) !== known.sha256)
    throw new InputError(`${what}: ${file} was changed after ${writer} wrote it; ${advice}`);
}

/** Record `files` (just written by `writer`, all in one folder) so that a later run may replace them. */
export function recordFiles(files: string[], writer: string): void {
  const dir = path.dirname(files[0]);
  const entries = readRecord(dir, `recording the files written in ${dir}`);
  removeOrphans(dir, TEMP);
  // Entries of files that are gone (deleted or moved by the user) are dropped rather than kept forever.
  for (const name of Object.keys(entries)) if (!fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false })) delete entries[name];
  for (const file of files) entries[path.basename(file)] = { writer, size: fs.lstatSync(file).size, sha256: sha256File(file) };
  const tmp = path.join(dir, `${FILE_RECORD}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`);
  fs.writeFileSync(tmp, `${JSON.stringify({ format: FORMAT, version: VERSION, files: entries }, null, 1)}\n`);
  fs.renameSync(tmp, path.join(dir, FILE_RECORD));
}

/** The record in `dir` (empty when there is none); refused when a file of that name is there and is not a record of ours. */
function readRecord(dir: string, what: string): Entries {
  const file = path.join(dir, FILE_RECORD);
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return Object.create(null) as Entries;
  const notOurs = new InputError(`${what}: ${file} is not fatezero's record of the files it wrote there; move it away`);
  if (!st.isFile()) throw notOurs;
  try {
    const record = JSON.parse(fs.readFileSync(file, "utf8")) as { format?: unknown; version?: unknown; files?: unknown };
    const files = record.files as Entries;
    const valid =
      record.format === FORMAT &&
      record.version === VERSION &&
      typeof files === "object" &&
      files !== null &&
      Object.values(files).every((f) => typeof f?.writer === "string" && Number.isSafeInteger(f?.size) && typeof f?.sha256 === "string");
    if (!valid) throw notOurs;
    return Object.assign(Object.create(null) as Entries, files);
  } catch {
    throw notOurs;
  }
}
