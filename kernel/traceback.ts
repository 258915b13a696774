// Turns what a cell threw, or what the type checker reported, into the `error` content (ename, evalue,
// traceback). Stack frames of compiled cells are rewritten to the cell's own line, the kernel's plumbing below
// the cell is dropped, and the failing cell line is quoted.
import { inspect } from "node:util";
import type { Diagnostic } from "tslab/dist/converter";
import { LineMap } from "./lineMap";

/** The `error` message content. */
export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** A cell as compiled and run: what frames inside it are mapped with. */
export interface CompiledCell {
  /** How the cell is named in tracebacks, e.g. "In[3]". */
  label: string;
  source: string;
  js: string;
  /** Characters of wrapper code before the compiled code on its first line. */
  firstLineShift: number;
}

/** Cells kept for mapping frames (a function defined in an old cell can throw much later). */
const KEPT_CELLS = 1000;
const FRAME = /fatezero-cell-(\d+):(\d+):(\d+)/;

/** The compiled cells, by the file name their code ran under. */
export class CellSources {
  private readonly cells = new Map<string, { cell: CompiledCell; map?: LineMap }>();
  private next = 1;

  /** Register a cell; returns the file name to run it under. */
  add(cell: CompiledCell): string {
    const filename = `fatezero-cell-${this.next++}`;
    this.cells.set(filename, { cell });
    if (this.cells.size > KEPT_CELLS) this.cells.delete(this.cells.keys().next().value as string);
    return filename;
  }

  /** The cell and 1-based cell line of a position in a compiled cell file; "wrapper" for the kernel's call. */
  locate(filename: string, line: number, column: number): { cell: CompiledCell; line: number } | "wrapper" | undefined {
    const entry = this.cells.get(filename);
    if (!entry) return undefined;
    // The line after the compiled code is the wrapper calling it: kernel plumbing, not the user's code.
    if (line > entry.cell.js.split("\n").length) return "wrapper";
    entry.map ??= new LineMap(entry.cell.source, entry.cell.js);
    const mapped = entry.map.cellLine(line, line === 1 ? column - entry.cell.firstLineShift : column);
    return mapped === undefined ? undefined : { cell: entry.cell, line: mapped };
  }
}

/** The error content for a value a cell threw (or rejected with). */
export function describeThrown(thrown: unknown, cells: CellSources): ErrorContent {
  try {
    return describeError(thrown, cells);
  } catch (e) {
    // A value whose description itself throws (a throwing getter, a hostile Proxy) still gets an answer.
    const why = safeString(e);
    return {
      ename: "Uncaught",
      evalue: `a thrown value that cannot be described (${why})`,
      traceback: [`Uncaught: a thrown value that cannot be described (${why})`],
    };
  }
}

/** `value` as text, or a placeholder when even that throws. */
function safeString(value: unknown): string {
  try {
    return value instanceof Error ? `${String(value.name)}: ${String(value.message)}` : String(value);
  } catch {
    return "unprintable";
  }
}

function describeError(thrown: unknown, cells: CellSources): ErrorContent {
  if (!(thrown instanceof Error)) {
    const evalue = inspect(thrown);
    return { ename: "Uncaught", evalue, traceback: [`Uncaught ${evalue}`] };
  }
  // V8 stops a SIGINT-ed cell wherever it was; its stack shows only the kernel starting the cell.
  if ((thrown as { code?: unknown }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") {
    return {
      ename: "Interrupted",
      evalue: "the cell was interrupted (SIGINT)",
      traceback: ["Interrupted: the cell was interrupted (SIGINT)"],
    };
  }
  // Anything can be assigned to these fields: only strings are taken as they are.
  const ename = String(thrown.name);
  const evalue = String(thrown.message);
  const stack = (thrown as { stack?: unknown }).stack;
  const lines = (typeof stack === "string" ? stack : `${ename}: ${evalue}`).split("\n");
  const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
  const header = firstFrame < 0 ? lines : lines.slice(0, firstFrame);
  const frames = firstFrame < 0 ? [] : lines.slice(firstFrame);
  const lastCellFrame = frames.map((f) => FRAME.test(f)).lastIndexOf(true);
  let quoted: string[] = [];
  const shown = frames
    // Below the outermost cell frame is only the kernel running the cell.
    .filter((f, i) => (lastCellFrame < 0 || i <= lastCellFrame) && !/\(node:internal|at node:internal/.test(f))
    .flatMap((frame) => {
      const m = FRAME.exec(frame);
      const at = m ? cells.locate(`fatezero-cell-${m[1]}`, Number(m[2]), Number(m[3])) : undefined;
      if (at === "wrapper") return [];
      if (!m || !at) return [frame];
      if (quoted.length === 0) quoted = quote(at.cell, at.line);
      // Cell functions are called through the session's variables object, which V8 names "Proxy".
      return [frame.replace(FRAME, `${at.cell.label}, line ${at.line}`).replace(/^(\s+at (?:async )?)Proxy\./, "$1")];
    });
  return { ename, evalue, traceback: [...header, ...shown, ...quoted] };
}

/** The error content for type-check diagnostics of the cell `source`. */
export function describeDiagnostics(diagnostics: Diagnostic[], label: string, source: string): ErrorContent {
  const traceback: string[] = [];
  for (const d of diagnostics) {
    const where = d.fileName
      ? `${d.fileName}:${d.start.line + 1}:${d.start.character + 1}`
      : `${label}, line ${d.start.line + 1}:${d.start.character + 1}`;
    traceback.push(`${where} - error TS${d.code}: ${d.messageText}`);
    if (!d.fileName) {
      const text = source.split("\n")[d.start.line] ?? "";
      const width =
        d.end.line === d.start.line ? Math.max(1, d.end.character - d.start.character) : Math.max(1, text.length - d.start.character);
      traceback.push(`    ${text}`, `    ${" ".repeat(d.start.character)}${"~".repeat(width)}`);
    }
  }
  return { ename: "CompileError", evalue: diagnostics[0]?.messageText ?? "compilation failed", traceback };
}

function quote(cell: CompiledCell, line: number): string[] {
  const text = cell.source.split("\n")[line - 1];
  return text === undefined ? [] : ["", `${cell.label}, line ${line}:`, `--> ${line} ${text}`];
}
