// tslab's converter rewrites references to earlier cells' variables as `exports.name`, but not the shorthand
// properties of object literals: `{ clip }` stays `{ clip }` and fails with "clip is not defined" when clip
// came from an earlier cell. Writing every shorthand property out as `clip: clip` (the same object in
// JavaScript) lets the converter see an ordinary reference. Lines are kept, so tracebacks stay right.
import { ts } from "./tslabTypeScript";

/** `code` with each shorthand property of an object literal written as `name: name`. */
export function expandShorthandProperties(code: string): string {
  const file = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const insertAt: { pos: number; name: string }[] = [];
  const visit = (node: import("@tslab/typescript-for-tslab").Node): void => {
    // `{ a = 1 } = obj` (a destructuring default) has no plain `a: a` form; it never reads `a` anyway.
    if (ts.isShorthandPropertyAssignment(node) && !node.objectAssignmentInitializer)
      insertAt.push({ pos: node.name.end, name: node.name.text });
    ts.forEachChild(node, visit);
  };
  visit(file);
  let out = code;
  for (const { pos, name } of insertAt.sort((a, b) => b.pos - a.pos)) out = `${out.slice(0, pos)}: ${name}${out.slice(pos)}`;
  return out;
}
