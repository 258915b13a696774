// Debian's Jupyter tools are run through the `jupyter` command; `python3` on PATH may be another
// interpreter without them, so the command is probed rather than assumed.
import { spawnSync } from "node:child_process";

/** The `jupyter` command that has nbconvert (on PATH, else Debian's /usr/bin/jupyter), or undefined. */
export function findJupyterNbconvert(): string | undefined {
  return ["jupyter", "/usr/bin/jupyter"].find(
    (candidate) => spawnSync(candidate, ["nbconvert", "--version"], { encoding: "utf8" }).status === 0,
  );
}
