// The session's input history for history_request (tail, range and glob search), kept in memory: a restarted
// kernel is a new session, as in IPython.

/** Session number of this kernel's history (IPython also accepts 0 for "the current session"). */
const SESSION = 1;

interface Entry {
  line: number;
  input: string;
  output: string | null;
}

/** A history row: [session, line, input] or [session, line, [input, output]]. */
export type HistoryRow = [number, number, string | [string, string | null]];

/** The history_request content this store understands. */
export interface HistoryQuery {
  hist_access_type?: unknown;
  output?: unknown;
  n?: unknown;
  session?: unknown;
  start?: unknown;
  stop?: unknown;
  pattern?: unknown;
  unique?: unknown;
}

/** Inputs (and text outputs) of the cells executed with store_history. */
export class History {
  private readonly entries: Entry[] = [];

  /** Remember cell `line` (its execution count) with its text/plain result, if it had one. */
  record(line: number, input: string, output: string | null): void {
    this.entries.push({ line, input, output });
  }

  /** Answer a history_request. */
  query(q: HistoryQuery): HistoryRow[] {
    const withOutput = q.output === true;
    const row = (e: Entry): HistoryRow => [SESSION, e.line, withOutput ? [e.input, e.output] : e.input];
    const n = typeof q.n === "number" && q.n > 0 ? Math.floor(q.n) : undefined;
    switch (q.hist_access_type) {
      case "tail":
        return this.entries.slice(n === undefined ? 0 : -n).map(row);
      case "range": {
        if (q.session !== undefined && q.session !== SESSION && q.session !== 0) return [];
        const start = typeof q.start === "number" ? q.start : 1;
        const stop = typeof q.stop === "number" && q.stop > 0 ? q.stop : Infinity;
        return this.entries.filter((e) => e.line >= start && e.line < stop).map(row);
      }
      case "search": {
        const pattern = globToRegExp(typeof q.pattern === "string" ? q.pattern : "*");
        let found = this.entries.filter((e) => pattern.test(e.input));
        if (q.unique === true) {
          // Keep the latest occurrence of each input.
          const seen = new Set<string>();
          found = found
            .reverse()
            .filter((e) => !seen.has(e.input) && seen.add(e.input))
            .reverse();
        }
        return found.slice(n === undefined ? 0 : -n).map(row);
      }
      default:
        return [];
    }
  }
}

/** A shell glob (`*`, `?`) matching whole inputs, like IPython's history search. */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[\\s\\S]*")
    .replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
}
