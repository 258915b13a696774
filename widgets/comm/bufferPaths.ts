// Binary values inside widget state travel as raw buffer frames addressed by their path in the state
// (protocol 2: at any depth; a binary object property is removed, a binary array item becomes null).

/** Object keys and array indices from the root of a state object to one binary value. */
export type BufferPath = (string | number)[];

/** A value that travels as a buffer frame rather than as JSON. */
export type BinaryValue = ArrayBuffer | ArrayBufferView;

/** A state with its binary values taken out, their paths, and the buffers in the same order. */
export interface SplitState<T> {
  state: T;
  bufferPaths: BufferPath[];
  buffers: BinaryValue[];
}

/** True for ArrayBuffer and every ArrayBufferView (Uint8Array, Float32Array, Buffer, DataView, …). */
export function isBinary(value: unknown): value is BinaryValue {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function isPlainContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === "object" && value !== null && !isBinary(value);
}

// Containers are cloned only where something is taken out, so the caller's state is never modified and
// buffer-free subtrees are shared rather than copied.
function separate(
  node: Record<string, unknown> | unknown[],
  path: BufferPath,
  out: SplitState<unknown>,
): Record<string, unknown> | unknown[] {
  let result = node;
  const replace = (key: string | number, value: unknown, remove: boolean) => {
    if (result === node) result = Array.isArray(node) ? node.slice() : { ...node };
    if (remove) delete (result as Record<string, unknown>)[key];
    else (result as Record<string | number, unknown>)[key] = value;
  };
  const entries: [string | number, unknown][] = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
  for (const [key, value] of entries) {
    if (isBinary(value)) {
      out.buffers.push(value);
      out.bufferPaths.push([...path, key]);
      replace(key, null, !Array.isArray(node));
    } else if (isPlainContainer(value)) {
      const separated = separate(value, [...path, key], out);
      if (separated !== value) replace(key, separated, false);
    }
  }
  return result;
}

/** Take every binary value out of `state` (without modifying it) for a message's JSON and buffer frames. */
export function removeBuffers<T extends Record<string, unknown>>(state: T): SplitState<T> {
  const out: SplitState<unknown> = { state: undefined, bufferPaths: [], buffers: [] };
  out.state = separate(state, [], out);
  return out as SplitState<T>;
}

// Only own properties are followed and written, so a path such as ["__proto__", "x"] from the wire can
// neither reach nor replace a prototype.
function child(node: unknown, key: string | number, path: BufferPath): unknown {
  if (typeof node !== "object" || node === null || !Object.prototype.hasOwnProperty.call(node, key)) {
    throw new Error(`buffer path ${JSON.stringify(path)}: no ${JSON.stringify(key)} in the state`);
  }
  return (node as Record<string | number, unknown>)[key];
}

/** Put buffers from the wire back into `state` (modified in place) at their paths: the inverse of removeBuffers. */
export function putBuffers(state: Record<string, unknown>, bufferPaths: BufferPath[], buffers: readonly BinaryValue[]): void {
  if (bufferPaths.length > buffers.length) {
    throw new Error(`${bufferPaths.length} buffer paths but ${buffers.length} buffers`);
  }
  bufferPaths.forEach((path, i) => {
    if (!Array.isArray(path) || path.length === 0 || !path.every((k) => typeof k === "string" || Number.isInteger(k))) {
      throw new Error(`invalid buffer path ${JSON.stringify(path)}`);
    }
    let node: unknown = state;
    for (const key of path.slice(0, -1)) node = child(node, key, path);
    if (typeof node !== "object" || node === null)
      throw new Error(`buffer path ${JSON.stringify(path)} does not end in an object or array`);
    const last = path[path.length - 1];
    if (Array.isArray(node) && typeof last === "number") node[last] = buffers[i];
    else Object.defineProperty(node, last, { value: buffers[i], writable: true, enumerable: true, configurable: true });
  });
}
