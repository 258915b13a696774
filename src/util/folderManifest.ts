// The record an output folder carries of what its writer put in it: `.fatezero-output.json` names the writer
// and every file with its size and sha256. A folder is ours to replace or delete only when the record is there,
// names the same writer, and every entry under the folder is a plain file or folder the record lists unchanged:
// a file the user added, edited or linked in makes the folder theirs.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** The manifest's file name, inside the folder it describes. */
export const MANIFEST = ".fatezero-output.json";
const FORMAT = "fatezero-output";
const VERSION = 1;

interface Manifest {
  format: string;
  version: number;
  writer: string;
  files: Record<string, { size: number; sha256: string }>;
}

/** Record every file under `dir` (just written by `writer`) in its manifest. */
export function writeManifest(dir: string, writer: string): void {
  const files: Manifest["files"] = {};
  for (const rel of walk(dir).files) files[rel] = { size: fs.lstatSync(path.join(dir, rel)).size, sha256: sha256File(path.join(dir, rel)) };
  const manifest: Manifest = { format: FORMAT, version: VERSION, writer, files };
  fs.writeFileSync(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
}

/**
 * Why `dir` is not a folder `writer` wrote and nobody changed since (a sentence naming the first file that is
 * not ours), or true when it is; nothing is followed through a link.
 */
export function ownedBy(dir: string, writer: string): string | true {
  const manifest = readManifest(dir);
  if (manifest === undefined) return `it has no record of ${writer} (${MANIFEST})`;
  if (manifest.writer !== writer) return `${MANIFEST} says ${manifest.writer} wrote it, not ${writer}`;
  const { files, others } = walk(dir);
  if (others.length > 0) return `${others[0]} is not a plain file or folder, so not ${writer}'s`;
  for (const rel of files) {
    const known = manifest.files[rel];
    if (known === undefined) return `${rel} is not a file ${writer} wrote`;
    const file = path.join(dir, rel);
    if (fs.lstatSync(file).size !== known.size || sha256File(file) !== known.sha256) return `${rel} was changed after ${writer} wrote it`;
  }
  return true;
}

function readManifest(dir: string): Manifest | undefined {
  const file = path.join(dir, MANIFEST);
  if (!fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) return undefined;
  try {
    const m = JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
    const files = m.files && typeof m.files === "object" ? Object.values(m.files) : undefined;
    const valid = files?.every((f) => Number.isSafeInteger(f?.size) && typeof f?.sha256 === "string");
    return m.format === FORMAT && m.version === VERSION && typeof m.writer === "string" && valid ? m : undefined;
  } catch {
    return undefined;
  }
}

/** The plain files under `dir` (relative, `/`-separated, the manifest left out) and any other kind of entry (links, FIFOs…). */
export function walk(dir: string): { files: string[]; others: string[] } {
  const files: string[] = [];
  const others: string[] = [];
  const visit = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) visit(child);
      else if (!e.isFile()) others.push(child);
      else if (child !== MANIFEST) files.push(child);
    }
  };
  visit("");
  return { files: files.sort(), others };
}

/** The sha256 of a file's bytes, in hex. */
export function sha256File(file: string): string {
  const hash = crypto.createHash("sha256");
  const buf = Buffer.alloc(8 << 20);
  const fd = fs.openSync(file, "r");
  try {
    for (let n = fs.readSync(fd, buf); n > 0; n = fs.readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}
