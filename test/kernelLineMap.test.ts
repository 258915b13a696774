// Cell lines recovered from the code tslab's converter emits (types removed, imports and exports rewritten,
// template literals over several lines), through the same converter the kernel uses.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createConverter } from "tslab/dist/converter";
import { LineMap } from "../kernel/lineMap";

const CELL = [
  'import { readFileSync } from "node:fs";', // 1
  "interface Point {", // 2
  "  x: number;", // 3
  "}", // 4
  "const label = `two", // 5
  "lines`;", // 6
  "const p: Point = {", // 7
  "  x: readFileSync.length,", // 8
  "};", // 9
  "function area(q: Point): number {", // 10
  "  return q.x * (undefined as any).y;", // 11
  "}", // 12
  "area(p);", // 13
].join("\n");

test("each emitted line of a cell maps back to the cell line its code came from", () => {
  const converter = createConverter();
  try {
    const out = converter.convert("", CELL);
    assert.deepEqual(out.diagnostics, []);
    const js = out.output ?? "";
    const map = new LineMap(CELL, js);
    const lines = js.split("\n");
    // [text on an emitted line, the cell line it must map to]; the column is that of the text.
    const cases: [string, number][] = [
      ["label = `two", 5],
      ["lines`", 6],
      ["readFileSync.length", 8],
      ["undefined.y", 11],
      ["area(p)", 13],
    ];
    for (const [text, cellLine] of cases) {
      const jsLine = lines.findIndex((l) => l.includes(text)) + 1;
      assert.ok(jsLine > 0, `the converter no longer emits ${text}:\n${js}`);
      assert.equal(map.cellLine(jsLine, lines[jsLine - 1].indexOf(text) + 1), cellLine, `${text} (emitted line ${jsLine})`);
    }
    const returnLine = lines.findIndex((l) => l.includes("return q.x")) + 1;
    assert.equal(map.cellLine(returnLine, 1), 11, "a position in leading whitespace belongs to its line");
  } finally {
    converter.close();
  }
});
