// Makes `import … from "fatezero"` (and "fatezero/kernel", "fatezero/widgets") work in cells wherever the
// notebook lives: the type checker sees a virtual node_modules/fatezero package in the notebook's folder whose
// files are this project's compiled declarations, and the cell's `require` loads the compiled JavaScript.
import * as fs from "node:fs";
import * as path from "node:path";
import { ts } from "./tslabTypeScript";

/** The project's build output (this file is dist/kernel/projectModules.js). */
const DIST = path.resolve(__dirname, "..");

/** Module names cells import → compiled module path under dist/, without extension. */
const MODULES: Record<string, string> = {
  fatezero: "src/index",
  "fatezero/kernel": "kernel/kernelContext",
  "fatezero/widgets": "widgets/index",
};

/** The compiled JavaScript file a project module name stands for, if it is one and is built. */
export function projectModulePath(specifier: string): string | undefined {
  const target = MODULES[specifier];
  if (target === undefined) return undefined;
  const file = path.join(DIST, `${target}.js`);
  return fs.existsSync(file) ? file : undefined;
}

/**
 * Teach the TypeScript used by tslab's converter about the project modules, seen from `cwd` (the notebook's
 * folder). Must run before the converter is created: the compiler host binds `realpath` when it is made.
 */
export function installTypeResolution(cwd: string): void {
  const packageDir = path.join(cwd, "node_modules", "fatezero");
  // Node10 resolution looks for <pkg>/index.d.ts for "fatezero" and <pkg>/<sub>.d.ts for "fatezero/<sub>".
  const virtual = new Map<string, string>();
  for (const [specifier, target] of Object.entries(MODULES)) {
    const sub = specifier === "fatezero" ? "index" : specifier.slice("fatezero/".length);
    virtual.set(path.join(packageDir, `${sub}.d.ts`), path.join(DIST, `${target}.d.ts`));
  }
  const sys = ts.sys;
  const fileExists = sys.fileExists.bind(sys);
  const directoryExists = sys.directoryExists.bind(sys);
  const realpath = sys.realpath?.bind(sys);
  const declaration = (file: string) => {
    const real = virtual.get(file);
    return real !== undefined && fileExists(real) ? real : undefined;
  };
  sys.fileExists = (file) => declaration(file) !== undefined || fileExists(file);
  sys.directoryExists = (dir) => dir === packageDir || directoryExists(dir);
  // Resolving the virtual file to the real declaration makes its relative imports resolve inside dist/.
  sys.realpath = (file) => declaration(file) ?? (realpath ? realpath(file) : file);
}
