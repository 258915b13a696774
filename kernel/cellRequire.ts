// The `require` compiled cells call: project module names go to this project's build, local .ts files the cell
// imports run from the JavaScript the converter emitted for them ("side outputs"), anything else resolves from
// the notebook's folder like a script there would.
import Module from "node:module";
import * as path from "node:path";
import * as vm from "node:vm";
import type { SideOutput } from "tslab/dist/converter";
import { projectModulePath } from "./projectModules";

/** Module loading for cells run from `cwd`. */
export class CellRequire {
  private readonly sources = new Map<string, string>();
  private readonly loaded = new Map<string, { exports: unknown }>();
  /** The function passed to cells as `require`. */
  readonly require: (id: string) => unknown;

  constructor(cwd: string) {
    this.require = this.requireFrom(path.join(cwd, "[notebook].js"));
  }

  /** Take newly emitted local modules; a changed one is re-run on its next import. */
  update(outputs: SideOutput[]): void {
    for (const out of outputs) {
      this.sources.set(out.path, out.data);
      this.loaded.delete(out.path);
    }
  }

  private requireFrom(filename: string): (id: string) => unknown {
    const base = Module.createRequire(filename);
    const dir = path.dirname(filename);
    const require = (id: string): unknown => {
      const project = projectModulePath(id);
      if (project !== undefined) return base(project);
      if (id.startsWith("./") || id.startsWith("../")) {
        const local = path.join(dir, id);
        const file = path.extname(local) === "" ? `${local}.js` : local;
        if (this.sources.has(file)) return this.load(file);
      }
      return base(id);
    };
    return Object.assign(require, { resolve: base.resolve, cache: base.cache });
  }

  private load(file: string): unknown {
    const cached = this.loaded.get(file);
    if (cached) return cached.exports;
    const module = { exports: {} as unknown };
    // Registered before running so that import cycles see the partial exports, as in Node.
    this.loaded.set(file, module);
    const wrapper = `(function (exports, require, module, __filename, __dirname) {${this.sources.get(file)}\n})`;
    const run = vm.runInThisContext(wrapper, { filename: file }) as (...args: unknown[]) => void;
    run(module.exports, this.requireFrom(file), module, file, path.dirname(file));
    return module.exports;
  }
}
