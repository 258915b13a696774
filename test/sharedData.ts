// Where tests find the shared data: `../shared` beside the project root (tests run from the root).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The shared folder. */
export const SHARED = path.resolve(process.cwd(), "../shared");
/** The public reference fixture. */
export const FIXTURE = path.join(SHARED, "reference/public");

/** A fresh temporary folder, removed when the process exits. */
export function tempDir(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fatezero-${tag}-`));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A writable copy of the fixture's model folder, with `edit` applied to its files. */
export function fixtureModelCopy(tag: string, edit: (dir: string) => void): string {
  const dir = path.join(tempDir(tag), "model");
  fs.cpSync(path.join(FIXTURE, "model"), dir, { recursive: true });
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) fs.chmodSync(path.join(dir, f), 0o755);
  edit(dir);
  return dir;
}
