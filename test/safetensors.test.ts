// Safetensors reader/writer: exact round trips per dtype, hand-checked half/bfloat16 decoding, and one
// malformed file per validation rule, each of which must fail with a SafetensorsError naming the problem.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SafetensorsError, SafetensorsFile, halfToFloat, writeSafetensors } from "../src/checkpoint/safetensors";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-safetensors-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function tmpPath(): string {
  return path.join(tmp, `t${counter++}.safetensors`);
}

function u16le(values: number[]): Uint8Array {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16LE(v, i * 2));
  return b;
}

/** A file with the given header (object or raw text) and data bytes, bypassing the writer's checks. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0)): string {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const p = tmpPath();
  fs.writeFileSync(p, Buffer.concat([len, json, data]));
  return p;
}

function assertInvalid(p: string, problem: RegExp): void {
  assert.throws(
    () => SafetensorsFile.open(p),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
      assert.match(e.message, problem);
      assert.ok(e.message.includes(p), "message names the file");
      return true;
    },
  );
}

// F16 bit patterns and their exact values (sign, exponent bias 15, 10-bit fraction).
const F16_CASES: [number, number][] = [
  [0x3c00, 1],
  [0xc000, -2],
  [0x3555, 0.333251953125], // (1 + 341/1024) * 2^-2
  [0x7bff, 65504], // largest finite half
  [0x0400, 2 ** -14], // smallest normal
  [0x0001, 2 ** -24], // smallest subnormal
  [0x03ff, 1023 * 2 ** -24], // largest subnormal
  [0x8000, -0],
  [0x7c00, Infinity],
  [0xfc00, -Infinity],
];

// BF16 is the top half of a float32.
const BF16_CASES: [number, number][] = [
  [0x3f80, 1],
  [0xc040, -3],
  [0x4049, 3.140625], // 0x40490000
  [0x0001, 2 ** -133], // float32 subnormal 0x00010000 = 2^16 * 2^-149
  [0x8000, -0],
  [0x7f80, Infinity],
  [0xff80, -Infinity],
];

test("round trip of F32, F16, BF16, I64 and U8 tensors with metadata", () => {
  const p = tmpPath();
  const f32 = new Float32Array([1.5, -2.25, Math.fround(Math.PI), 0, 1e-30, -7]);
  const i64 = new BigInt64Array([0n, -1n, 2n ** 62n, -(2n ** 63n), 2n ** 53n + 1n]);
  const u8 = new Uint8Array([0, 1, 127, 128, 255]);
  writeSafetensors(
    p,
    [
      { name: "a.f32", dtype: "F32", shape: [2, 3], data: () => new Uint8Array(f32.buffer) },
      { name: "b.f16", dtype: "F16", shape: [F16_CASES.length], data: () => u16le(F16_CASES.map(([h]) => h)) },
      { name: "c.bf16", dtype: "BF16", shape: [BF16_CASES.length], data: () => u16le(BF16_CASES.map(([h]) => h)) },
      { name: "d.i64", dtype: "I64", shape: [5], data: () => new Uint8Array(i64.buffer) },
      { name: "e.u8", dtype: "U8", shape: [5, 1], data: () => u8 },
      { name: "f.empty", dtype: "F32", shape: [0, 4], data: () => new Uint8Array(0) },
    ],
    { format: "pt", note: "round trip" },
  );
  const f = SafetensorsFile.open(p);
  assert.deepEqual(f.metadata, { format: "pt", note: "round trip" });
  assert.deepEqual([...f.entries.keys()], ["a.f32", "b.f16", "c.bf16", "d.i64", "e.u8", "f.empty"]);
  assert.deepEqual(f.entry("a.f32").shape, [2, 3]);
  assert.equal(f.entry("a.f32").fileOffset % 8, 0, "data section starts 8-byte aligned");
  assert.deepEqual(f.readFloat32("a.f32"), f32);
  assert.deepEqual(
    [...f.readFloat32("b.f16")],
    F16_CASES.map(([, v]) => v),
  );
  assert.deepEqual(
    [...f.readFloat32("c.bf16")],
    BF16_CASES.map(([, v]) => v),
  );
  assert.deepEqual(f.readInt64("d.i64"), i64);
  assert.equal(f.entry("e.u8").dtype, "U8");
  assert.deepEqual(new Uint8Array(f.readBytes("e.u8")), u8);
  assert.equal(f.readFloat32("f.empty").length, 0);
  assert.throws(() => f.readFloat32("d.i64"), /dtype I64, expected a floating-point tensor/);
  assert.throws(() => f.readInt64("a.f32"), /dtype F32, expected an integer tensor/);
  assert.throws(() => f.entry("nope"), /no tensor named "nope"/);
});

test("half-precision NaN decodes to NaN", () => {
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.ok(Number.isNaN(halfToFloat(0xfc01)));
});

test("writer rejects wrong data sizes and repeated names, leaving no file behind", () => {
  const p = tmpPath();
  assert.throws(
    () => writeSafetensors(p, [{ name: "x", dtype: "F32", shape: [3], data: () => new Uint8Array(8) }]),
    /8 bytes given, shape needs 12/,
  );
  const twice = { name: "x", dtype: "U8" as const, shape: [1], data: () => new Uint8Array(1) };
  assert.throws(() => writeSafetensors(p, [twice, twice]), /used twice/);
  assert.deepEqual(
    fs.readdirSync(tmp).filter((f) => f.startsWith(path.basename(p))),
    [],
  );
});

test("truncated file (data cut short)", () => {
  const p = tmpPath();
  writeSafetensors(p, [{ name: "w", dtype: "F32", shape: [4], data: () => new Uint8Array(16) }]);
  fs.truncateSync(p, fs.statSync(p).size - 4);
  assertInvalid(p, /entry "w" has data_offsets \[0, 16\] beyond the data section \(12 bytes\)/);
});

test("file truncated after opening fails on read", () => {
  const p = tmpPath();
  writeSafetensors(p, [{ name: "w", dtype: "F32", shape: [4], data: () => new Uint8Array(16) }]);
  const f = SafetensorsFile.open(p);
  fs.truncateSync(p, fs.statSync(p).size - 4);
  assert.throws(
    () => f.readFloat32("w"),
    (e: unknown) => e instanceof SafetensorsError && /file ended while reading "w"/.test(e.message),
  );
});

test("overlapping offsets", () => {
  const p = rawFile(
    {
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    },
    new Uint8Array(12),
  );
  assertInvalid(p, /entries "a" and "b" overlap/);
});

test("out-of-range offsets", () => {
  assertInvalid(
    rawFile({ a: { dtype: "U8", shape: [4], data_offsets: [1000, 1004] } }, new Uint8Array(8)),
    /beyond the data section \(8 bytes\)/,
  );
  assertInvalid(rawFile({ a: { dtype: "U8", shape: [0], data_offsets: [4, 0] } }, new Uint8Array(8)), /begin after end/);
  assertInvalid(rawFile({ a: { dtype: "U8", shape: [4], data_offsets: [-4, 0] } }, new Uint8Array(8)), /invalid data_offsets \[-4,0\]/);
  assertInvalid(
    rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [2 ** 60, 2 ** 60 + 1] } }, new Uint8Array(8)),
    /invalid data_offsets/,
  );
  assertInvalid(rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [0] } }, new Uint8Array(8)), /invalid data_offsets \[0\]/);
});

test("header length beyond the file", () => {
  const b = Buffer.alloc(20);
  b.writeBigUInt64LE(1000n);
  const p = tmpPath();
  fs.writeFileSync(p, b);
  assertInvalid(p, /header length 1000 is beyond the end of the file \(20 bytes\)/);
  b.writeBigUInt64LE(2n ** 64n - 1n);
  fs.writeFileSync(p, b);
  assertInvalid(p, /header length 18446744073709551615 is beyond the end of the file/);
});

test("file shorter than 8 bytes", () => {
  const p = tmpPath();
  fs.writeFileSync(p, Buffer.from([1, 2, 3, 4, 5]));
  assertInvalid(p, /file is 5 bytes, shorter than the 8-byte header length/);
  fs.writeFileSync(p, Buffer.alloc(0));
  assertInvalid(p, /file is 0 bytes/);
});

test("dtype/shape size mismatch", () => {
  const p = rawFile({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
  assertInvalid(p, /entry "a" holds 8 bytes but dtype F32 and shape \[3\] need 12/);
});

test("non-JSON header", () => {
  assertInvalid(rawFile('{"a": {"dtype": "F32",'), /header is not JSON/);
  assertInvalid(rawFile("\u0000\u0001garbage"), /header is not JSON/);
});

test("header not an object", () => {
  for (const header of ["[1, 2]", "null", "42", '"text"']) assertInvalid(rawFile(header), /header is not a JSON object/);
  assertInvalid(rawFile({ a: [1, 2] }), /entry "a" is not an object/);
  assertInvalid(rawFile({ __metadata__: { format: 1 } }), /__metadata__\.format is not a string/);
});

test("unknown dtype", () => {
  assertInvalid(rawFile({ a: { dtype: "F8", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /entry "a" has unknown dtype "F8"/);
  // Inherited object properties are not dtypes.
  assertInvalid(rawFile({ a: { dtype: "toString", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unknown dtype "toString"/);
  assertInvalid(rawFile({ a: { shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unknown dtype undefined/);
});

test("negative or non-integer shape", () => {
  for (const shape of [[-1], [1.5], ["2"], [2 ** 60], "4"]) {
    assertInvalid(rawFile({ a: { dtype: "U8", shape, data_offsets: [0, 2] } }, new Uint8Array(2)), /entry "a" has an invalid shape/);
  }
});
