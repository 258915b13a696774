// The Jupyter wire format: [routing identities…, "<IDS|MSG>", signature, header, parent_header, metadata,
// content, buffers…]. The four JSON frames are signed as received (never re-serialised); buffers travel as raw
// frames after them.
import { randomUUID } from "node:crypto";
import type { Signer } from "./signing";

/** The protocol version this kernel speaks. */
export const PROTOCOL_VERSION = "5.3";

const DELIMITER = Buffer.from("<IDS|MSG>", "ascii");

/** A message header. */
export interface MessageHeader {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

/** A decoded message; `parent_header` is `{}` for messages that answer nothing. */
export interface JupyterMessage {
  header: MessageHeader;
  parent_header: MessageHeader | Record<string, never>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
  buffers: Buffer[];
}

/** A received message with the routing identities to answer it through. */
export interface Envelope {
  identities: Buffer[];
  message: JupyterMessage;
}

/** A message that cannot be accepted (malformed, or signed with the wrong key). */
export class WireError extends Error {}

/** A fresh header for a message of type `msgType` from this kernel's session. */
export function makeHeader(msgType: string, session: string): MessageHeader {
  return {
    msg_id: randomUUID(),
    session,
    username: "kernel",
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** Split, verify and parse received frames; throws WireError for anything not acceptable. */
export function decodeFrames(frames: readonly Buffer[], signer: Signer): Envelope {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0) throw new WireError("no <IDS|MSG> delimiter");
  if (frames.length < at + 6) throw new WireError(`${frames.length - at - 1} frames after the delimiter, need at least 5`);
  const signed = frames.slice(at + 2, at + 6);
  if (!signer.verify(signed, frames[at + 1])) throw new WireError("invalid signature");
  if (!signer.isFresh(frames[at + 1])) throw new WireError("replayed message (its signature was seen before in this session)");
  const [header, parent, metadata, content] = signed.map(parseObject);
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") throw new WireError("header without msg_type/msg_id");
  return {
    identities: frames.slice(0, at),
    message: {
      header: header as unknown as MessageHeader,
      parent_header: parent as JupyterMessage["parent_header"],
      metadata,
      content,
      buffers: frames.slice(at + 6),
    },
  };
}

/** Serialise and sign a message for sending after `identities`; buffers are appended as raw frames. */
export function encodeMessage(identities: readonly Uint8Array[], message: JupyterMessage, signer: Signer): Buffer[] {
  const signed = [message.header, message.parent_header, message.metadata, message.content].map((part) =>
    Buffer.from(JSON.stringify(part), "utf8"),
  );
  return [...identities.map((id) => Buffer.from(id)), DELIMITER, Buffer.from(signer.sign(signed), "ascii"), ...signed, ...message.buffers];
}

function parseObject(frame: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(frame.toString("utf8"));
  } catch {
    throw new WireError("a signed frame is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new WireError("a signed frame is not a JSON object");
  return value as Record<string, unknown>;
}
