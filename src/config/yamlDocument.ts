// Reading a YAML config file safely: the `yaml` package's YAML 1.2 core schema (no custom tags, no
// code), a bounded alias count, and errors that name the file and the line. Keeps the parsed document
// so later (semantic) errors can point at the line of the key they are about.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";

/** Aliases expanded while converting to plain values; more means an alias bomb, not a config. */
const MAX_ALIAS_COUNT = 100;

/** A problem in a config file; the message names the file, the line when known, and the key path. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A parsed YAML file: its plain value and the 1-based line of a key path. */
export interface YamlSource {
  sourceName: string;
  root: unknown;
  /** Line of the deepest node of the document on `path` (the key itself when it exists). */
  lineOf(path: readonly string[]): number | undefined;
}

/** Parse YAML text; syntax errors, unresolved tags and bad aliases throw a ConfigError with file:line:column. */
export function parseYaml(text: string, sourceName: string): YamlSource {
  const lines = new LineCounter();
  // The library's own duplicate-key check compares every pair of keys: checked here in one pass instead.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  // Warnings are refused too: the only ones are unresolved tags (`!!python/object`, `!custom`), which a
  // FateZero config never needs and whose value would otherwise be silently taken as a plain string.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const { line, col } = lines.linePos(problem.pos[0]);
    throw new ConfigError(`${sourceName}:${line}:${col}: YAML: ${problem.message}`);
  }
  checkUniqueKeys(doc.contents, lines, sourceName);
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new ConfigError(`${sourceName}: YAML: ${(e as Error).message}`);
  }
  return { sourceName, root, lineOf: (path) => lineOf(doc, lines, path) };
}

/** Every mapping's keys are distinct (a repeated key would silently replace the first value). */
function checkUniqueKeys(root: unknown, lines: LineCounter, sourceName: string): void {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : JSON.stringify(pair.key);
        if (seen.has(key)) {
          const line = lines.linePos((pair.key as Node | null)?.range?.[0] ?? 0).line;
          throw new ConfigError(`${sourceName}:${line}: YAML: map keys must be unique; "${key}" is repeated`);
        }
        seen.add(key);
        pending.push(pair.value);
      }
    } else if (isSeq(node)) pending.push(...node.items);
  }
}

function lineOf(doc: Document, lines: LineCounter, path: readonly string[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0];
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      next = pair.value;
    } else if (isSeq(node) && /^\d+$/.test(key) && Number(key) < node.items.length) {
      next = node.items[Number(key)];
      offset = (next as Node | null)?.range?.[0] ?? offset;
    } else break;
    node = next;
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}
