// Message signing per the Jupyter wire protocol: an HMAC over the header, parent header, metadata and content
// frames only (binary buffers are not signed), hex-encoded; an empty key means messages are not signed.
import { createHmac, getHashes, timingSafeEqual } from "node:crypto";

/** How many signatures of received messages are remembered to refuse replays (jupyter_client keeps 2^16). */
const SEEN_LIMIT = 1 << 16;

/** Signs and verifies the four signed frames of a Jupyter message. */
export class Signer {
  private readonly key: Buffer;
  private readonly digest: string;
  private seen = new Set<string>();

  /** `scheme` is the connection file's `signature_scheme` ("hmac-sha256"), `key` its `key`. */
  constructor(scheme: string, key: string) {
    const match = /^hmac-([a-z0-9-]+)$/i.exec(scheme);
    if (!match || !getHashes().includes(match[1].toLowerCase())) throw new Error(`unsupported signature_scheme ${JSON.stringify(scheme)}`);
    this.digest = match[1].toLowerCase();
    this.key = Buffer.from(key, "utf8");
  }

  /** Whether messages are signed at all (the spec's "empty key disables authentication"). */
  get enabled(): boolean {
    return this.key.length > 0;
  }

  /** The hex signature of the signed frames, or "" without a key. */
  sign(frames: readonly Uint8Array[]): string {
    if (!this.enabled) return "";
    const hmac = createHmac(this.digest, this.key);
    for (const frame of frames) hmac.update(frame);
    return hmac.digest("hex");
  }

  /** Whether `signature` matches the frames; compared in constant time so timing leaks nothing about the key. */
  verify(frames: readonly Uint8Array[], signature: Uint8Array): boolean {
    if (!this.enabled) return true;
    const expected = Buffer.from(this.sign(frames), "ascii");
    // The length of a valid signature is public (it depends only on the digest), so checking it first leaks nothing.
    return signature.length === expected.length && timingSafeEqual(expected, signature);
  }

  /**
   * Whether a verified signature is new in this session: a captured message sent again carries the same one
   * (every real message differs, its header has a fresh msg_id and date). The oldest half is forgotten when full.
   */
  isFresh(signature: Uint8Array): boolean {
    if (!this.enabled) return true;
    const key = Buffer.from(signature).toString("latin1");
    if (this.seen.has(key)) return false;
    if (this.seen.size >= SEEN_LIMIT) this.seen = new Set([...this.seen].slice(SEEN_LIMIT / 2));
    this.seen.add(key);
    return true;
  }
}
