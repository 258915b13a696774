// Cells sharing variables through tslab's converter, run by the kernel's CellExecutor in this process.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CellExecutor } from "../kernel/executor";
import { expandShorthandProperties } from "../kernel/shorthandProperties";

test("shorthand properties are written out, keeping lines; destructuring defaults are left alone", () => {
  assert.equal(expandShorthandProperties("const x = { label, clip };\nf({ a });"), "const x = { label: label, clip: clip };\nf({ a: a });");
  assert.equal(expandShorthandProperties("({ a = 1 } = o);"), "({ a = 1 } = o);");
  assert.equal(expandShorthandProperties("const { a, b } = o;"), "const { a, b } = o;");
});

test("a shorthand property refers to a variable of an earlier cell", async () => {
  const cells = new CellExecutor(process.cwd());
  assert.equal((await cells.execute("const clip = { count: 3 }; const label = 'source';", "In[1]")).status, "ok");
  const second = await cells.execute("const rows = [{ label, clip }]; rows[0].clip.count + rows[0].label.length", "In[2]");
  assert.equal(second.status, "ok", JSON.stringify(second));
  assert.deepEqual(second.status === "ok" && second.value, { value: 9 });
  cells.close();
});
