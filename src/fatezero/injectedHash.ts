// Content hash of tensors injected into a UNet, so caches never mix graphs with different injections.
import * as crypto from "node:crypto";

/** sha256 of injected tensors (names and values). */
export function injectedHash(injected: ReadonlyMap<string, Float32Array>): string {
  const h = crypto.createHash("sha256");
  for (const [k, v] of [...injected].sort(([a], [b]) => a.localeCompare(b)))
    h.update(k).update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return h.digest("hex");
}
