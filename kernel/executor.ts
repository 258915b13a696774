// The bridge to tslab's TypeScript converter: type-check and compile a cell against the declarations of earlier
// cells, run it, and report its last expression or what went wrong. Cells run in this process's context with
// `breakOnSigint`, so SIGINT ends a busy synchronous loop; a cell awaiting something is ended by interrupt().
import * as vm from "node:vm";
import { createConverter, isCompleteCode, type Converter } from "tslab/dist/converter";
import { printQuickInfo } from "tslab/dist/inspect";
import { CellRequire } from "./cellRequire";
import { installTypeResolution } from "./projectModules";
import { expandShorthandProperties } from "./shorthandProperties";
import { CellSources, describeDiagnostics, describeThrown, type ErrorContent } from "./traceback";

/** How a cell ended: its last expression's value (if it has one), or an error. */
export type CellOutcome = { status: "ok"; value?: { value: unknown } } | ({ status: "error" } & ErrorContent);

/** Completion candidates replacing code[start, end) (UTF-16 offsets). */
export interface Completion {
  start: number;
  end: number;
  matches: string[];
}

/** Where compiled cells find their `exports` and `require` (a global, so the call runs inside the vm script). */
const HANDLE = 'globalThis[Symbol.for("fatezero.kernel.cell")]';

/** Thrown into an awaiting cell by interrupt(). */
class Interrupted extends Error {
  constructor() {
    super("the cell was interrupted");
    this.name = "Interrupted";
  }
}

/** Whether a cell ended by the kernel's interruption; any thrown value, a hostile Proxy too, is asked safely. */
function isInterrupted(e: unknown): e is Interrupted {
  try {
    return e instanceof Interrupted;
  } catch {
    return false;
  }
}

/** Runs cells of one kernel session; variables and declarations carry over from cell to cell. */
export class CellExecutor {
  private readonly converter: Converter;
  private readonly modules: CellRequire;
  private readonly cells = new CellSources();
  private readonly exports = sessionExports();
  private prevDecl = "";
  private running = false;
  private interruptRequested = false;
  private rejectRunning: ((e: Error) => void) | undefined;

  /** `cwd` is the notebook's folder: relative imports and the "fatezero" package are resolved from there. */
  constructor(cwd: string) {
    installTypeResolution(cwd);
    this.converter = createConverter();
    this.modules = new CellRequire(cwd);
    (globalThis as Record<symbol, unknown>)[Symbol.for("fatezero.kernel.cell")] = { exports: this.exports, require: this.modules.require };
  }

  /** Type-check, compile and run `code`; `label` names the cell in tracebacks ("In[3]"). */
  async execute(code: string, label: string): Promise<CellOutcome> {
    this.running = true;
    this.interruptRequested = false;
    try {
      const expanded = expandShorthandProperties(code);
      const converted = this.converter.convert(this.prevDecl, expanded);
      if (converted.sideOutputs) this.modules.update(converted.sideOutputs);
      if (converted.diagnostics.length > 0) return { status: "error", ...describeDiagnostics(converted.diagnostics, label, expanded) };
      if (!converted.output) {
        this.prevDecl = converted.declOutput ?? "";
        return { status: "ok" };
      }
      // A SIGINT that arrived while compiling is only seen by its handler once the event loop turns: let it,
      // because the cell must not start (breakOnSigint only catches signals that arrive while the code runs).
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.interruptRequested) throw new Interrupted();
      const prefix = converted.hasToplevelAwait ? "(async function (exports, require) { " : "(function (exports, require) { ";
      const filename = this.cells.add({ label, source: code, js: converted.output, firstLineShift: prefix.length });
      const wrapped = `${prefix}${converted.output}\n})(${HANDLE}.exports, ${HANDLE}.require)`;
      const returned: unknown = vm.runInThisContext(wrapped, { filename, breakOnSigint: true, displayErrors: false });
      if (converted.hasToplevelAwait) {
        const done = returned as Promise<unknown>;
        // After an interrupt the cell's promise may still settle; nobody waits for it any more.
        done.catch(() => undefined);
        // No event-loop turn since the cell started, so no interrupt can have been missed before this is set.
        await Promise.race([done, new Promise<never>((_, reject) => (this.rejectRunning = reject))]);
      }
      this.prevDecl = converted.declOutput ?? "";
      const name = converted.lastExpressionVar;
      if (name === undefined || !(name in this.exports)) return { status: "ok" };
      const value = this.exports[name];
      delete this.exports[name];
      return value === undefined ? { status: "ok" } : { status: "ok", value: { value } };
    } catch (e) {
      // The kernel's own interruption has no stack worth showing: it names no line of the cell.
      if (isInterrupted(e)) return { status: "error", ename: e.name, evalue: e.message, traceback: [`${e.name}: ${e.message}`] };
      return { status: "error", ...describeThrown(e, this.cells) };
    } finally {
      this.running = false;
      this.rejectRunning = undefined;
    }
  }

  /** End the running cell if it is awaiting (or about to start); a synchronous one is ended by SIGINT itself. */
  interrupt(): void {
    if (!this.running) return;
    this.interruptRequested = true;
    this.rejectRunning?.(new Interrupted());
  }

  /** The error content for something thrown outside a running cell (a timer or promise a cell left behind). */
  describe(thrown: unknown): ErrorContent {
    return describeThrown(thrown, this.cells);
  }

  /** Completion at `cursor` (UTF-16 offset). */
  complete(code: string, cursor: number): Completion {
    const info = this.converter.complete(this.prevDecl, code, cursor);
    return { start: info.start, end: info.end, matches: info.candidates };
  }

  /** The type and documentation of what is at (or just before) `cursor`, if anything. */
  inspect(code: string, cursor: number): string | undefined {
    const info =
      this.converter.inspect(this.prevDecl, code, cursor) ??
      (cursor > 0 ? this.converter.inspect(this.prevDecl, code, cursor - 1) : undefined);
    return info ? printQuickInfo(info) : undefined;
  }

  /** Whether `code` is a complete cell, and the indent of the next line if not. */
  isComplete(code: string): { complete: boolean; indent?: string } {
    const r = isCompleteCode(code);
    return { complete: r.completed, indent: r.indent };
  }

  /** Release the converter's watchers. */
  close(): void {
    this.converter.close();
  }
}

/**
 * The object holding cell-level variables. Compiled cells re-export imported names with getters; storing their
 * values instead keeps the names assignable from later cells (as tslab does).
 */
function sessionExports(): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  return new Proxy(values, {
    defineProperty: (_target, prop, attributes) => {
      if (prop !== "__esModule") values[prop as string] = attributes.get ? attributes.get() : attributes.value;
      return true;
    },
  });
}
