// Jupyter's tools (nbconvert, nbclient) are run through the `jupyter` command: the one on PATH (an activated
// venv), else the project's own environment, .venv/ (made by `bash python/setup.sh` from the pinned
// python/requirements-jupyter.txt). The command is probed rather than assumed.
import { spawnSync } from "node:child_process";
import * as path from "node:path";

/** The project's venv `jupyter` (this file is dist/cli/jupyterCommand.js). */
export const PROJECT_JUPYTER = path.resolve(__dirname, "..", "..", ".venv", "bin", "jupyter");

/** How to get nbconvert and nbclient, for error messages. */
export const JUPYTER_INSTALL_HINT =
  "pip install -r python/requirements-jupyter.txt into an active venv, or run bash python/setup.sh (the project's .venv/)";

/** The `jupyter` command that has nbconvert (on PATH, else the project's .venv/bin/jupyter), or undefined. */
export function findJupyterNbconvert(): string | undefined {
  return ["jupyter", PROJECT_JUPYTER].find(
    (candidate) => spawnSync(candidate, ["nbconvert", "--version"], { encoding: "utf8" }).status === 0,
  );
}
