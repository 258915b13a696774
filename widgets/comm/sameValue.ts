// Equality of widget state values, so that setting a key to the value it already has (for example a
// change listener writing back what the frontend just sent) sends no message.
import { isBinary, type BinaryValue } from "./bufferPaths";

function bytes(value: BinaryValue): Buffer {
  return value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

// Frames and attention maps are megabytes: compare natively rather than byte by byte in JavaScript.
function sameBytes(a: BinaryValue, b: BinaryValue): boolean {
  return bytes(a).equals(bytes(b));
}

/** Deep equality over JSON values and binary values (compared by their bytes). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (isBinary(a) || isBinary(b)) return isBinary(a) && isBinary(b) && sameBytes(a, b);
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const rb = b as Record<string, unknown>;
  return (
    ka.length === kb.length &&
    ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && sameValue((a as Record<string, unknown>)[k], rb[k]))
  );
}
