// Binary values at any depth of a widget state: taken out for the wire, put back from it (protocol 2).
import assert from "node:assert/strict";
import { test } from "node:test";
import { isBinary, putBuffers, removeBuffers } from "../widgets/comm/bufferPaths";

test("removeBuffers takes binary values out at any depth without touching the input", () => {
  const u8 = new Uint8Array([1, 2, 3]);
  const dv = new DataView(new ArrayBuffer(4));
  const ab = new ArrayBuffer(2);
  const f32 = new Float32Array([0.5]);
  const plain = [0, "text"];
  const state = { plain, x: { ar: u8 }, y: { shape: [2, 2], data: dv }, list: [ab, 1, { z: f32 }], n: null };
  const split = removeBuffers(state);
  assert.deepEqual(split.state, { plain: [0, "text"], x: {}, y: { shape: [2, 2] }, list: [null, 1, {}], n: null });
  assert.deepEqual(split.bufferPaths, [
    ["x", "ar"],
    ["y", "data"],
    ["list", 0],
    ["list", 2, "z"],
  ]);
  assert.equal(split.buffers.length, 4);
  [u8, dv, ab, f32].forEach((b, i) => assert.equal(split.buffers[i], b));
  assert.equal(state.x.ar, u8, "input untouched");
  assert.equal(state.list[0], ab, "input untouched");
  assert.equal(split.state.plain, plain, "buffer-free subtrees are shared, not copied");
});

test("a state without binary values comes back as the same object", () => {
  const state = { a: 1, b: { c: [1, 2] } };
  const split = removeBuffers(state);
  assert.equal(split.state, state);
  assert.deepEqual(split.bufferPaths, []);
});

test("putBuffers inverts removeBuffers after a JSON round trip", () => {
  const state = { top: Buffer.from("top"), deep: { rows: [{ px: new Uint8Array([9]) }, 7] }, grid: [[new Uint8Array([1]), null]] };
  const split = removeBuffers(state);
  const wire = JSON.parse(JSON.stringify(split.state)) as Record<string, unknown>;
  const views = split.buffers.map(
    (b) => new DataView((b as Uint8Array).buffer, (b as Uint8Array).byteOffset, (b as Uint8Array).byteLength),
  );
  putBuffers(wire, split.bufferPaths, views);
  assert.equal(Buffer.from((wire.top as DataView).buffer, (wire.top as DataView).byteOffset, 3).toString(), "top");
  const rows = (wire.deep as { rows: unknown[] }).rows;
  assert.equal((rows[0] as { px: DataView }).px.getUint8(0), 9);
  assert.equal(rows[1], 7);
  assert.equal(((wire.grid as unknown[][])[0][0] as DataView).getUint8(0), 1);
  assert.ok(isBinary(wire.top));
});

test("putBuffers rejects paths that do not exist, too few buffers, and never writes a prototype", () => {
  const buf = new DataView(new ArrayBuffer(1));
  assert.throws(() => putBuffers({}, [["a", "b"]], [buf]), /no "a"/);
  assert.throws(() => putBuffers({}, [["a"], ["b"]], [buf]), /2 buffer paths but 1 buffers/);
  assert.throws(() => putBuffers({}, [[]], [buf]), /invalid buffer path/);
  assert.throws(() => putBuffers({}, [["__proto__", "polluted"]], [buf]), /no "__proto__"/);
  const state = JSON.parse('{"__proto__": {}}') as Record<string, unknown>;
  putBuffers(state, [["__proto__", "polluted"]], [buf]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const top: Record<string, unknown> = {};
  putBuffers(top, [["__proto__"]], [buf]);
  assert.equal(Object.getPrototypeOf(top), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(top, "__proto__")?.value, buf);
});
