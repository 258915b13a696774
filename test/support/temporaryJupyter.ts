// A throwaway Jupyter for kernel tests: the fatezero kernelspec installed with `--prefix`, every Jupyter
// folder in a temp dir, and a runner for client processes (the pinned environment's Python tools, .venv) with
// bounded time.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { isolatedJupyterEnv } from "../../kernel/install";
import { tempDir } from "../sharedData";
import { ROOT, withPythonPath } from "./pythonEnv";

// The environment's Python and its checks live in pythonEnv.ts; these names stay for the tests importing them here.
export { JUPYTER, PYTHON, pythonHas, pythonMissing, ROOT } from "./pythonEnv";

/** A temporary Jupyter with the kernelspec installed into its prefix; cells run in its `notebooks` folder. */
export function temporaryJupyter(tag: string): { env: NodeJS.ProcessEnv; notebooks: string; prefix: string } {
  const root = tempDir(tag);
  const prefix = path.join(root, "prefix");
  const installed = spawnSync(process.execPath, [path.join(ROOT, "bin/fatezero.js"), "kernel", "install", "--prefix", prefix], {
    encoding: "utf8",
  });
  assert.equal(installed.status, 0, installed.stderr);
  const notebooks = path.join(root, "notebooks");
  fs.mkdirSync(notebooks);
  const env = {
    ...withPythonPath(process.env),
    ...isolatedJupyterEnv(root, prefix),
    PYTHONPATH: path.join(ROOT, "test/python"),
    // No __pycache__ in the source tree.
    PYTHONDONTWRITEBYTECODE: "1",
    // Cells that run the pipeline generate the tiny model here.
    FATEZERO_CACHE: path.join(root, "cache"),
  };
  return { env, notebooks, prefix };
}

/** Run a command to completion (killed after `timeoutMs`); resolves with its exit code and all its output. */
export function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
