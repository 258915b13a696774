// `fatezero figures`: regenerate every notebook figure by running the figure notebooks headlessly with
// nbconvert/nbclient (the jupyter on PATH, else the project's .venv: cli/jupyterCommand.ts) and our kernel (installed into a temporary prefix, all Jupyter state in a
// temporary folder), FATEZERO_FIGURES_DIR pointing at the output folder.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { installKernelSpec, isolatedJupyterEnv, KERNEL_NAME } from "../kernel/install";
import { EMBEDDED_MODELS, modelFacts } from "../src/fatezero/loadModel";
import { openModelFolder } from "../src/networks/modelFolder";
import { isSingleFile } from "../src/networks/singleFile";
import { fileKind } from "../src/util/fileKind";
import { checkFolderPath } from "../src/util/folderOutput";
import { asInputSync, InputError } from "../src/util/inputError";
import { worldVideoSeed } from "../src/world/worldClip";
import { notebookInputs } from "../widgets/figures/notebookInputs";
import { UsageError } from "./flagValues";
import { isNotebook } from "./exportHtml";
import { findJupyterNbconvert, JUPYTER_INSTALL_HINT } from "./jupyterCommand";

/** The project root (this file is dist/cli/figuresCommand.js). */
const ROOT = path.resolve(__dirname, "..", "..");

/** The notebooks that save figures, in the project's notebooks/ folder. */
export const FIGURE_NOTEBOOKS = ["quickstart.ipynb", "how-fatezero-works.ipynb", "paper-figures.ipynb"];

/** Flags of `fatezero figures`. */
export interface FiguresFlags {
  out?: string;
  notebooks?: string[];
  /** Seconds one cell may run (default 1800: a real model's inversion is long). */
  timeout?: string;
}

/** What one notebook run produced. */
export interface NotebookRun {
  notebook: string;
  seconds: number;
  /** Figure files written or rewritten by the run (absolute paths). */
  figures: string[];
  /** The executed copy of the notebook, with its outputs. */
  executed: string;
}

/** A notebook cell that failed: which notebook, which cell, and the error the kernel reported. */
export class NotebookError extends Error {}

/** Options of `runFigureNotebooks`. */
export interface FigureRunOptions {
  /** Figures folder (default: notebooks/figures in the project). */
  out?: string;
  /** Notebook files (default: FIGURE_NOTEBOOKS in the project's notebooks/). */
  notebooks?: string[];
  timeoutSeconds?: number;
  /** Extra environment for the kernels (on top of this process's). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** Run each notebook with the fatezero kernel; throws NotebookError naming the first failing cell. */
export async function runFigureNotebooks(options: FigureRunOptions = {}): Promise<NotebookRun[]> {
  const log = options.log ?? ((line: string) => console.error(line));
  const out = path.resolve(options.out ?? path.join(ROOT, "notebooks", "figures"));
  const notebooks = (options.notebooks ?? FIGURE_NOTEBOOKS.map((n) => path.join(ROOT, "notebooks", n))).map((n) => path.resolve(n));
  for (const n of notebooks) checkNotebook(n, out);
  checkFolderPath(out, "--out");
  const runEnv = { ...process.env, ...options.env };
  for (const dir of new Set(notebooks.map((n) => path.dirname(n)))) checkNotebookInputs(dir, runEnv);
  const jupyter = findJupyter();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-figures-"));
  try {
    const prefix = path.join(scratch, "prefix");
    installKernelSpec({ prefix });
    const env: NodeJS.ProcessEnv = {
      ...runEnv,
      ...isolatedJupyterEnv(scratch, prefix),
      FATEZERO_FIGURES_DIR: out,
    };
    fs.mkdirSync(out, { recursive: true });
    const executedDir = path.join(out, "executed");
    const runs: NotebookRun[] = [];
    for (const [i, notebook] of notebooks.entries()) {
      const name = path.basename(notebook);
      log(`[${i + 1}/${notebooks.length}] ${name}: running…`);
      const before = snapshot(out);
      const start = performance.now();
      const args = [
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
        `--ExecutePreprocessor.timeout=${options.timeoutSeconds ?? 1800}`,
        "--output-dir",
        executedDir,
        notebook,
      ];
      const result = await runProcess(jupyter, args, path.dirname(notebook), env);
      const seconds = (performance.now() - start) / 1000;
      if (result.code !== 0) throw new NotebookError(failureMessage(notebook, result.output));
      const figures = changedFiles(out, before).filter((f) => !f.startsWith(executedDir + path.sep));
      log(`[${i + 1}/${notebooks.length}] ${name}: done in ${seconds.toFixed(1)} s, ${figures.length} figures`);
      runs.push({ notebook, seconds, figures, executed: path.join(executedDir, name) });
    }
    return runs;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Run `fatezero figures`; prints every figure written; returns the exit code. */
export async function figuresCommand(flags: FiguresFlags): Promise<number> {
  const timeout = flags.timeout === undefined ? undefined : Number(flags.timeout);
  // nbclient's timeout is an integer number of seconds.
  if (timeout !== undefined && (!/^\s*\d+\s*$/.test(flags.timeout!) || timeout < 1 || timeout > MAX_CELL_SECONDS))
    throw new UsageError(`--timeout: expected whole seconds in 1…${MAX_CELL_SECONDS}, got "${flags.timeout}"`);
  try {
    const runs = await runFigureNotebooks({ out: flags.out, notebooks: flags.notebooks, timeoutSeconds: timeout });
    for (const run of runs) for (const f of run.figures) console.log(f);
    return 0;
  } catch (e) {
    if (!(e instanceof NotebookError)) throw e;
    console.error(`fatezero figures: ${e.message}`);
    return 1;
  }
}

/** Most seconds `--timeout` may give one cell: a week. */
const MAX_CELL_SECONDS = 7 * 24 * 3600;

/** A notebook to run is a notebook file, and its executed copy (in `out`/executed) would not replace it. */
function checkNotebook(notebook: string, out: string): void {
  const stats = fs.statSync(notebook, { throwIfNoEntry: false });
  if (!stats) throw new UsageError(`--notebooks: ${notebook} does not exist`);
  if (!stats.isFile()) throw new UsageError(`--notebooks: ${notebook} is ${fileKind(stats)}, not a notebook file`);
  if (!isNotebook(fs.readFileSync(notebook, "utf8")))
    throw new UsageError(`--notebooks: ${notebook} is not a notebook (JSON with a cells list)`);
  const executed = path.join(out, "executed", path.basename(notebook));
  if (fs.existsSync(executed) && fs.realpathSync(executed) === fs.realpathSync(notebook))
    throw new UsageError(`--out ${out}: the executed copy ${executed} would replace the input notebook ${notebook}; give another --out`);
}

/**
 * What the notebooks of `notebookDir` will read from `env` (FATEZERO_MODEL, FATEZERO_VIDEO, …), checked before any
 * kernel starts: a bad variable fails here with exit 2 and its name, not as a traceback in the first cell.
 */
function checkNotebookInputs(notebookDir: string, env: NodeJS.ProcessEnv): void {
  const inputs = notebookInputs(notebookDir, env);
  const fromNotebook = (p: string) => path.resolve(notebookDir, p); // the kernels run in the notebook's folder
  const model = EMBEDDED_MODELS.includes(inputs.model) ? inputs.model : fromNotebook(inputs.model);
  const modelConfig = inputs.modelConfig === undefined ? undefined : fromNotebook(inputs.modelConfig);
  if (modelConfig !== undefined) {
    const named = `FATEZERO_MODEL_CONFIG=${inputs.modelConfig}`;
    if (!fs.existsSync(modelConfig)) throw new InputError(`${named}: no such folder (seen from ${notebookDir})`);
    if (!isSingleFile(model))
      throw new InputError(
        `${named}: gives the configs of a single-file FATEZERO_MODEL (.safetensors); FATEZERO_MODEL=${inputs.model} is not one`,
      );
    asInputSync(() => openModelFolder(modelConfig, { weights: false }), named);
  }
  asInputSync(() => modelFacts(model, { modelConfig }), `FATEZERO_MODEL=${inputs.model}`);
  if (worldVideoSeed(inputs.video) === undefined && !fs.existsSync(fromNotebook(inputs.video)))
    throw new InputError(`FATEZERO_VIDEO=${inputs.video}: no such file or folder (seen from ${notebookDir})`);
}

/** The `jupyter` command, or a UsageError saying how to get nbconvert and nbclient. */
function findJupyter(): string {
  const jupyter = findJupyterNbconvert();
  if (jupyter) return jupyter;
  throw new UsageError(`jupyter nbconvert was not found: ${JUPYTER_INSTALL_HINT}`);
}

/** Which notebook cell failed and why, from nbclient's CellExecutionError text. */
function failureMessage(notebook: string, output: string): string {
  const name = path.basename(notebook);
  const m = /An error occurred while executing the following cell:\n-+\n([\s\S]*?)\n-+\n([\s\S]*)$/.exec(output);
  if (!m) return `${name}: nbconvert failed:\n${output.trim().split("\n").slice(-20).join("\n")}`;
  const source = m[1].trim();
  const cells = (JSON.parse(fs.readFileSync(notebook, "utf8")) as { cells: { cell_type: string; source: string | string[] }[] }).cells;
  const index = cells.findIndex(
    (c) => c.cell_type === "code" && (Array.isArray(c.source) ? c.source.join("") : c.source).trim() === source,
  );
  const where = index >= 0 ? `cell ${index + 1} of ${cells.length}` : "a cell";
  return `${name}: ${where} failed (it starts "${source.split("\n")[0]}"):\n${m[2].trim()}`;
}

/** Modification times of every file under `dir`. */
function snapshot(dir: string): Map<string, number> {
  const files = new Map<string, number>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    files.set(file, fs.statSync(file).mtimeMs);
  }
  return files;
}

/** Files under `dir` that are new or modified since `before`, sorted. */
function changedFiles(dir: string, before: Map<string, number>): string[] {
  return [...snapshot(dir)]
    .filter(([file, mtime]) => before.get(file) !== mtime)
    .map(([file]) => file)
    .sort();
}

/** Run a process to completion, collecting stdout and stderr together. */
function runProcess(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}
