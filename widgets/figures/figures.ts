// Where notebook figures go: $FATEZERO_FIGURES_DIR, else `figures/` in the working directory (the kernel
// runs in the notebook's folder, so that is beside the notebook). `fatezero figures` sets the variable.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** The figures folder (absolute). */
export function figuresDir(): string {
  return path.resolve(process.env.FATEZERO_FIGURES_DIR || "figures");
}

/** The path for figure `name` (e.g. "error.svg") in the figures folder, which is created. */
export function figurePath(name: string): string {
  if (name === "" || name.includes("..") || path.isAbsolute(name))
    throw new Error(`figure name ${JSON.stringify(name)}: give a file name inside the figures folder`);
  const file = path.join(figuresDir(), name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return file;
}

/** Write figure bytes (or SVG text) under `name`, atomically; returns the path. */
export function saveFigure(name: string, data: Uint8Array | string): string {
  const file = figurePath(name);
  // A temp file renamed into place: a reader (or an interrupted run) never sees half a figure.
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
  return file;
}
