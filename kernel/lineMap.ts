// Maps a position in the JavaScript a cell was compiled to back to the cell's own line. tslab's converter emits
// no source map (and its compiler options cannot be changed), but the emitted code keeps the cell's tokens in
// order, minus types and plus a few rewrites (`exports.x`, `module_1.name`), so aligning the two token streams
// (longest common subsequence) pins every emitted token to a source token.
import { ts } from "./tslabTypeScript";

interface Token {
  id: number;
  line: number;
  column: number;
}

/** Token pairs beyond this use a window around the asked position (bounded time and memory for huge cells). */
const FULL_ALIGNMENT_LIMIT = 4_000_000;
const WINDOW = 800;

/** Cell-line lookup for one compiled cell. */
export class LineMap {
  private readonly cellTokens: Token[];
  private readonly jsTokens: Token[];
  private fullAlignment: Int32Array | undefined;

  /** `source` is the cell as typed, `js` the code that ran (line 1 of both is the cell's first line). */
  constructor(source: string, js: string) {
    const ids = new Map<string, number>();
    this.cellTokens = tokenize(source, ids);
    this.jsTokens = tokenize(js, ids);
  }

  /** The 1-based cell line for a 1-based line and column of the emitted code (undefined if nothing aligns). */
  cellLine(jsLine: number, jsColumn: number): number | undefined {
    const js = this.jsTokens;
    if (js.length === 0 || this.cellTokens.length === 0) return undefined;
    let at = 0;
    while (at + 1 < js.length && before(js[at + 1], jsLine - 1, jsColumn - 1)) at++;
    // A position in a line's leading whitespace belongs to that line's first token, not the previous line's last.
    if (js[at].line < jsLine - 1 && at + 1 < js.length && js[at + 1].line === jsLine - 1) at++;
    const matchOf = this.alignment(at);
    // Prefer the nearest aligned token after the position on the same line (rewrites insert tokens before the
    // original ones, e.g. `fatezero_1.` before `loadModel`), then the nearest before it.
    for (let i = at; i < js.length && js[i].line === js[at].line; i++) if (matchOf(i) >= 0) return this.cellTokens[matchOf(i)].line + 1;
    for (let i = at - 1; i >= 0; i--) if (matchOf(i) >= 0) return this.cellTokens[matchOf(i)].line + 1;
    for (let i = at + 1; i < js.length; i++) if (matchOf(i) >= 0) return this.cellTokens[matchOf(i)].line + 1;
    return undefined;
  }

  /** For emitted token i, the index of the cell token it aligns with, or -1. */
  private alignment(around: number): (i: number) => number {
    const n = this.cellTokens.length;
    const m = this.jsTokens.length;
    if (n * m <= FULL_ALIGNMENT_LIMIT) {
      this.fullAlignment ??= align(this.cellTokens, this.jsTokens);
      const full = this.fullAlignment;
      return (i) => full[i];
    }
    const jsFrom = Math.max(0, around - WINDOW / 2);
    const jsTo = Math.min(m, jsFrom + WINDOW);
    const centre = Math.round((around / m) * n);
    const cellFrom = Math.max(0, centre - 2 * WINDOW);
    const cellTo = Math.min(n, centre + 2 * WINDOW);
    const local = align(this.cellTokens.slice(cellFrom, cellTo), this.jsTokens.slice(jsFrom, jsTo));
    return (i) => (i < jsFrom || i >= jsTo || local[i - jsFrom] < 0 ? -1 : local[i - jsFrom] + cellFrom);
  }
}

function before(token: Token, line: number, column: number): boolean {
  return token.line < line || (token.line === line && token.column <= column);
}

/** Longest common subsequence of token ids; result[j] is the index in `a` matched with b[j], or -1. */
function align(a: Token[], b: Token[]): Int32Array {
  const n = a.length;
  const m = b.length;
  const width = m + 1;
  // suffix[i * width + j] = LCS length of a[i..] and b[j..].
  const suffix = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      suffix[i * width + j] =
        a[i].id === b[j].id ? suffix[(i + 1) * width + j + 1] + 1 : Math.max(suffix[(i + 1) * width + j], suffix[i * width + j + 1]);
    }
  }
  const match = new Int32Array(m).fill(-1);
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i].id === b[j].id) match[j++] = i++;
    else if (suffix[(i + 1) * width + j] >= suffix[i * width + j + 1]) i++;
    else j++;
  }
  return match;
}

function tokenize(code: string, ids: Map<string, number>): Token[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, code);
  const tokens: Token[] = [];
  // Tokens come in order, so the line is found by walking the line starts along with them.
  const lineStarts = [0];
  for (let i = 0; i < code.length; i++) if (code[i] === "\n") lineStarts.push(i + 1);
  let line = 0;
  // A `}` closing a template substitution continues the template: the scanner must be told so, or the rest of
  // the template (up to the next backtick, possibly the end of the code) would become one token.
  const braces: boolean[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.CloseBraceToken && braces.pop() === true) kind = scanner.reScanTemplateToken(false);
    if (kind === ts.SyntaxKind.OpenBraceToken) braces.push(false);
    if (kind === ts.SyntaxKind.TemplateHead || kind === ts.SyntaxKind.TemplateMiddle) braces.push(true);
    const text = scanner.getTokenText();
    let id = ids.get(text);
    if (id === undefined) ids.set(text, (id = ids.size));
    const pos = scanner.getTokenPos();
    while (line + 1 < lineStarts.length && lineStarts[line + 1] <= pos) line++;
    tokens.push({ id, line, column: pos - lineStarts[line] });
  }
  return tokens;
}
