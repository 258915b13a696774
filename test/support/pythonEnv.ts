// The project's Python environment: .venv/ at the repository root, made by `bash python/setup.sh` from the
// pinned python/requirements-*.txt (JupyterLab 4.6, Notebook 7, ipywidgets 8, nbconvert, nbclient,
// jupyter_client 8, jupyter_kernel_test; torch and numpy for training). Every test that runs Jupyter or Python
// finds it here. FATEZERO_PYTHON names another interpreter with the same packages (its folder must hold
// `jupyter` too, as a venv's bin/ does).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** The project root (this file is dist/test/support/pythonEnv.js). */
export const ROOT = path.resolve(__dirname, "..", "..", "..");
/** The venv python/setup.sh makes. */
export const VENV = path.join(ROOT, ".venv");
/** The Python with the pinned packages. */
export const PYTHON = process.env.FATEZERO_PYTHON || path.join(VENV, "bin", "python");
/** Its folder: `jupyter`, `jupyter-lab`, `pip` … */
export const PYTHON_BIN = path.dirname(PYTHON);
/** The `jupyter` command of that environment. */
export const JUPYTER = path.join(PYTHON_BIN, "jupyter");

const imports = new Map<string, boolean>();

/** Whether the environment's Python can import these modules. */
export function pythonHas(modules: string[]): boolean {
  const key = modules.join(", ");
  if (!imports.has(key)) imports.set(key, fs.existsSync(PYTHON) && spawnSync(PYTHON, ["-c", `import ${key}`]).status === 0);
  return imports.get(key)!;
}

/** Why a test needing these modules must be skipped (how to get them), or false. */
export function pythonMissing(modules: string[]): string | false {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} does not exist: run bash python/setup.sh (.ci/run does)`;
  return pythonHas(modules) ? false : `${PYTHON} cannot import ${modules.join(", ")}: run bash python/setup.sh (.ci/run does)`;
}

/** `env` with the environment's bin/ first on PATH, as an activated venv has it (so `jupyter` is this one). */
export function withPythonPath(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, PATH: [PYTHON_BIN, env.PATH].filter(Boolean).join(path.delimiter) };
}
