// Writes the `fatezero` kernelspec: kernel.json with absolute paths to this Node and this build's kernel entry,
// where Jupyter looks for kernels (the user's data dir, or <prefix>/share/jupyter/kernels).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

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

/** Install the kernelspec; returns the folder written. */
export function installKernelSpec(options: InstallOptions = {}): string {
  if (options.user && options.prefix !== undefined) throw new Error("kernel install: choose --user or --prefix, not both");
  const kernels =
    options.prefix !== undefined
      ? path.join(path.resolve(options.prefix), "share", "jupyter", "kernels")
      : path.join(userDataDir(), "kernels");
  const dir = path.join(kernels, KERNEL_NAME);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "kernel.json"), `${JSON.stringify(kernelSpec(), null, 2)}\n`);
  return dir;
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
