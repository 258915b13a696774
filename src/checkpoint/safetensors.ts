// Reader and writer for the safetensors format: an 8-byte little-endian header length, a JSON header
// mapping tensor names to {dtype, shape, data_offsets}, then the raw little-endian tensor bytes.
// Every number taken from the file is checked before it is used, so a malformed file fails with a
// message that names the file and the problem instead of reading out of bounds.
import { isUtf8 } from "node:buffer";
import * as fs from "node:fs";
import { fileKind } from "../util/fileKind";

export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Largest header we accept; real checkpoints have headers of a few hundred KB. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  fileOffset: number;
  byteLength: number;
}

/** Error for a file that is not valid safetensors; the message names the file. */
export class SafetensorsError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: not a valid safetensors file: ${problem}`);
    this.name = "SafetensorsError";
  }
}

/**
 * How to turn a PyTorch pickle checkpoint (`from`: .ckpt, .bin, .pt, .pth) into safetensors at `to`, once, by
 * hand: pickles are never loaded here, since unpickling can execute arbitrary code.
 */
export function pickleConversionAdvice(from: string, to: string): string {
  return (
    "PyTorch pickle checkpoints are not loaded because unpickling can execute arbitrary code. If you trust the file, " +
    `convert it to safetensors once with python -c "import torch; from safetensors.torch import save_file; ` +
    `sd = torch.load('${from}', map_location='cpu'); sd = sd.get('state_dict', sd); ` +
    `save_file({k: v.contiguous() for k, v in sd.items() if isinstance(v, torch.Tensor)}, '${to}')"`
  );
}

/** What a file that is not safetensors starts like, when it is a known other format (a renamed checkpoint). */
function otherFormat(head: Buffer): string | undefined {
  if (head.subarray(0, 4).equals(Buffer.from("PK\x03\x04", "latin1")))
    return "it is a ZIP archive, the format torch.save writes (a PyTorch .ckpt/.bin/.pt renamed to .safetensors?)";
  // Pickle protocols 2–5 start with PROTO (0x80) and the protocol number: torch.save's legacy format.
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5)
    return "it is a Python pickle (an old-format PyTorch checkpoint renamed to .safetensors?)";
  return undefined;
}

/** An opened, validated safetensors file; tensor data is read on demand. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly fileSize: number,
    readonly entries: ReadonlyMap<string, TensorEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  /** Open and validate a safetensors file (header only; no tensor data is read). */
  static open(path: string): SafetensorsFile {
    // Opening a FIFO would wait for a writer forever, and a device never ends: only regular files are read.
    const stats = fs.statSync(path);
    if (!stats.isFile()) throw new SafetensorsError(path, `it is ${fileKind(stats)}, not a regular file`);
    const fd = fs.openSync(path, "r");
    try {
      const fileSize = fs.fstatSync(fd).size;
      const fail = (problem: string): never => {
        throw new SafetensorsError(path, problem);
      };
      if (fileSize < 8) fail(`file is ${fileSize} bytes, shorter than the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      fs.readSync(fd, lenBuf, 0, 8, 0);
      const other = otherFormat(lenBuf);
      if (other) fail(`${other}; ${pickleConversionAdvice(path, path.replace(/(\.safetensors)?$/i, ".converted.safetensors"))}`);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(fileSize - 8)) fail(`header length ${headerLen} is beyond the end of the file (${fileSize} bytes)`);
      if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds ${MAX_HEADER_BYTES} bytes`);
      const n = Number(headerLen);
      const headerBuf = Buffer.alloc(n);
      if (fs.readSync(fd, headerBuf, 0, n, 8) !== n) fail("could not read the whole header");
      const text = headerBuf.toString("utf8");
      // Invalid bytes would silently decode to U+FFFD, and the tensors named with them would then be "missing".
      if (!isUtf8(headerBuf)) {
        const valid = Buffer.from(text, "utf8");
        let at = 0;
        while (valid[at] === headerBuf[at]) at++;
        fail(
          `header is not UTF-8 text: byte ${8 + at} (0x${headerBuf[at].toString(16)}), after ${JSON.stringify(headerBuf.subarray(0, at).toString("utf8").slice(-40))}`,
        );
      }
      let header: unknown;
      try {
        header = JSON.parse(text);
      } catch (e) {
        fail(`header is not JSON (${(e as Error).message})`);
      }
      if (header === null || typeof header !== "object" || Array.isArray(header)) fail("header is not a JSON object");
      const dataStart = 8 + n;
      const entries = parseEntries(header as Record<string, unknown>, dataStart, fileSize - dataStart, fail);
      const meta = (header as Record<string, unknown>).__metadata__;
      const metadata: Record<string, string> = {};
      if (meta !== undefined) {
        if (meta === null || typeof meta !== "object" || Array.isArray(meta)) fail("__metadata__ is not an object");
        for (const [k, v] of Object.entries(meta as object)) {
          if (typeof v !== "string") fail(`__metadata__.${k} is not a string`);
          metadata[k] = v as string;
        }
      }
      return new SafetensorsFile(path, fileSize, entries, metadata);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The entry for a tensor, or an error naming the file and the missing tensor. */
  entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.path}: no tensor named "${name}"`);
    return e;
  }

  /** Raw little-endian bytes of one tensor. */
  readBytes(name: string): Buffer {
    const e = this.entry(name);
    const buf = Buffer.alloc(e.byteLength);
    const fd = fs.openSync(this.path, "r");
    try {
      let done = 0;
      while (done < e.byteLength) {
        const got = fs.readSync(fd, buf, done, e.byteLength - done, e.fileOffset + done);
        if (got === 0) throw new SafetensorsError(this.path, `file ended while reading "${name}"`);
        done += got;
      }
    } finally {
      fs.closeSync(fd);
    }
    return buf;
  }

  /** One floating-point tensor converted to float32 (F32, F16, BF16 and F64 are accepted). */
  readFloat32(name: string): Float32Array {
    const e = this.entry(name);
    return toFloat32(this.readBytes(name), e.dtype, `${this.path}: "${name}"`);
  }

  /** One integer tensor (I64 or I32) as int64 values. */
  readInt64(name: string): BigInt64Array {
    const e = this.entry(name);
    const bytes = this.readBytes(name);
    const count = e.byteLength / DTYPE_BYTES[e.dtype];
    const out = new BigInt64Array(count);
    if (e.dtype === "I64") for (let i = 0; i < count; i++) out[i] = bytes.readBigInt64LE(i * 8);
    else if (e.dtype === "I32") for (let i = 0; i < count; i++) out[i] = BigInt(bytes.readInt32LE(i * 4));
    else throw new Error(`${this.path}: "${name}" has dtype ${e.dtype}, expected an integer tensor`);
    return out;
  }
}

function parseEntries(
  header: Record<string, unknown>,
  dataStart: number,
  dataSize: number,
  fail: (problem: string) => never,
): Map<string, TensorEntry> {
  const entries = new Map<string, TensorEntry>();
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(`entry "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, dtype)) fail(`entry "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`entry "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`entry "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`entry "${name}" has data_offsets [${begin}, ${end}] with begin after end`);
    if (end > dataSize) fail(`entry "${name}" has data_offsets [${begin}, ${end}] beyond the data section (${dataSize} bytes)`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (!Number.isSafeInteger(expected) || expected !== end - begin) {
      fail(`entry "${name}" holds ${end - begin} bytes but dtype ${dtype} and shape [${(shape as number[]).join(", ")}] need ${expected}`);
    }
    entries.set(name, {
      name,
      dtype: dtype as SafetensorsDtype,
      shape: shape as number[],
      fileOffset: dataStart + begin,
      byteLength: end - begin,
    });
    spans.push({ name, begin, end });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    const cur = spans[i];
    if (cur.begin < prev.end) fail(`entries "${prev.name}" and "${cur.name}" overlap`);
  }
  return entries;
}

/** Convert little-endian float bytes of the given dtype to float32. */
export function toFloat32(bytes: Buffer, dtype: SafetensorsDtype, what: string): Float32Array {
  const count = bytes.length / DTYPE_BYTES[dtype];
  const out = new Float32Array(count);
  switch (dtype) {
    case "F32":
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
      else for (let i = 0; i < count; i++) out[i] = bytes.readFloatLE(i * 4);
      return out;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = bytes.readDoubleLE(i * 8);
      return out;
    case "F16":
      for (let i = 0; i < count; i++) out[i] = halfToFloat(bytes.readUInt16LE(i * 2));
      return out;
    case "BF16": {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = bytes.readUInt16LE(i * 2) << 16;
      return out;
    }
    default:
      throw new Error(`${what} has dtype ${dtype}, expected a floating-point tensor`);
  }
}

/** IEEE 754 half-precision bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A tensor to write: its bytes are produced on demand so that large files stream. */
export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: () => Uint8Array;
}

/** Write a safetensors file atomically (temporary file, then rename), one tensor at a time. */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = {}): void {
  // No prototype, so that a tensor named "__proto__" becomes a key instead of vanishing into a setter.
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    // A repeated name would leave the first tensor's bytes unreferenced and misplace every later tensor.
    if (t.name === "__metadata__") throw new Error(`"__metadata__" is reserved and cannot name a tensor`);
    if (Object.hasOwn(header, t.name)) throw new Error(`tensor name "${t.name}" is used twice`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  // Pad the header with spaces so tensor data starts 8-byte aligned, as the reference writer does.
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    for (const t of tensors) {
      const data = t.data();
      const expected = (header[t.name] as { data_offsets: number[] }).data_offsets;
      if (data.byteLength !== expected[1] - expected[0]) {
        throw new Error(`tensor "${t.name}": ${data.byteLength} bytes given, shape needs ${expected[1] - expected[0]}`);
      }
      fs.writeSync(fd, data);
    }
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, path);
}
