// Writes the `fatezero` kernelspec: kernel.json with absolute paths to this Node and this build's kernel entry,
// where Jupyter looks for kernels (the user's data dir, or <prefix>/share/jupyter/kernels). The folder is
// written whole (src/util/folderOutput.ts): an earlier install of ours is replaced, anything else is refused.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { walk } from "../src/util/folderManifest";
import { outputFolder, writeFolderSync } from "../src/util/folderOutput";

/** The kernelspec's name (what `jupyter kernelspec list` and notebooks' metadata call it). */
export const KERNEL_NAME = "fatezero";

/** Where to install: the user's Jupyter data dir (default) or a prefix such as a virtualenv or a test folder. */
export interface InstallOptions {
  user?: boolean;
  prefix?: string;
}

/** The kernelspec's kernel.json content. */
export function kernelSpec(): Record<string, unknown> {
  return {
    argv: [process.execPath, path.join(__dirname, "..", "cli", "kernelMain.js"), "{connection_file}"],
    display_name: "FateZero (TypeScript)",
    language: "typescript",
    // The kernel ends busy synchronous cells on SIGINT; an awaiting cell is also ended by interrupt_request.
    interrupt_mode: "signal",
    metadata: { debugger: false },
  };
}

/** Who the kernelspec folder's manifest says wrote it. */
export const KERNEL_WRITER = "fatezero kernel install";

/** Install the kernelspec; returns the folder written. Refused (InputError) when a folder not ours is there. */
export function installKernelSpec(options: InstallOptions = {}): string {
  if (options.user && options.prefix !== undefined) throw new Error("kernel install: choose --user or --prefix, not both");
  const kernels =
    options.prefix !== undefined
      ? path.join(path.resolve(options.prefix), "share", "jupyter", "kernels")
      : path.join(userDataDir(), "kernels");
  const dir = path.join(kernels, KERNEL_NAME);
  const out = outputFolder(dir, installedWhere(options, "the kernelspec folder"), KERNEL_WRITER, {
    earlier: isEarlierKernelSpec,
    advice: "not replaced: move it away, or install with --prefix elsewhere",
  });
  writeFolderSync(out, (staging) => fs.writeFileSync(path.join(staging, "kernel.json"), specText(kernelSpec())));
  return dir;
}

/** How refusals name an install folder: after the --prefix the user gave, when there is one. */
export function installedWhere(options: InstallOptions, folder: string): string {
  return options.prefix !== undefined ? `--prefix ${options.prefix}: ${folder}` : folder;
}

function specText(spec: Record<string, unknown>): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}

/**
 * Installs before the manifest wrote only kernel.json, byte for byte what kernelSpec() gives but for the two
 * paths it recorded (the Node then, and its kernel entry: kernel/main.js or cli/kernelMain.js); a folder
 * holding anything else, or a kernel.json the user edited, is theirs.
 */
function isEarlierKernelSpec(dir: string): boolean {
  const { files, others } = walk(dir);
  if (others.length > 0 || files.length !== 1 || files[0] !== "kernel.json") return false;
  const text = fs.readFileSync(path.join(dir, "kernel.json"), "utf8");
  let argv: unknown;
  try {
    argv = (JSON.parse(text) as { argv?: unknown }).argv;
  } catch {
    return false;
  }
  if (!Array.isArray(argv) || argv.length !== 3 || typeof argv[0] !== "string" || typeof argv[1] !== "string") return false;
  if (!/[/\\](kernel[/\\]main|cli[/\\]kernelMain)\.js$/.test(argv[1])) return false;
  return text === specText({ ...kernelSpec(), argv: [argv[0], argv[1], "{connection_file}"] });
}

/** Jupyter's user data dir on this platform, honouring JUPYTER_DATA_DIR as Jupyter does. */
export function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return path.resolve(process.env.JUPYTER_DATA_DIR);
  if (process.platform === "darwin") return path.join(os.homedir(), "Library", "Jupyter");
  if (process.platform === "win32") return path.join(process.env.APPDATA ?? os.homedir(), "jupyter");
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), ".local", "share"), "jupyter");
}

/**
 * Environment variables for a Jupyter whose data, config and runtime folders live under `root` and which
 * finds kernelspecs installed with `--prefix prefix` (nothing from the user's own Jupyter leaks in).
 */
export function isolatedJupyterEnv(root: string, prefix: string): Record<string, string> {
  return {
    JUPYTER_PATH: path.join(prefix, "share", "jupyter"),
    JUPYTER_DATA_DIR: path.join(root, "data"),
    JUPYTER_CONFIG_DIR: path.join(root, "config"),
    JUPYTER_RUNTIME_DIR: path.join(root, "runtime"),
    JUPYTER_PLATFORM_DIRS: "0",
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
  };
}
