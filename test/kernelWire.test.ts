// The kernel's wire format and signing without sockets: what is signed (not the buffers), what is rejected.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { Signer } from "../kernel/signing";
import { decodeFrames, encodeMessage, makeHeader, WireError, type JupyterMessage } from "../kernel/wireMessage";

const KEY = "a0b1c2d3-secret";

function message(buffers: Buffer[] = []): JupyterMessage {
  return {
    header: makeHeader("comm_msg", "session-1"),
    parent_header: {},
    metadata: {},
    content: { comm_id: "c", data: { x: 1 } },
    buffers,
  };
}

test("the signature is HMAC-SHA256 over header, parent_header, metadata and content only", () => {
  const frames = encodeMessage([Buffer.from("client-id")], message([Buffer.from([0, 1, 2, 255])]), new Signer("hmac-sha256", KEY));
  assert.equal(frames[1].toString(), "<IDS|MSG>");
  const expected = createHmac("sha256", KEY).update(frames[3]).update(frames[4]).update(frames[5]).update(frames[6]).digest("hex");
  assert.equal(frames[2].toString(), expected);
  assert.deepEqual(frames[7], Buffer.from([0, 1, 2, 255]), "buffers are raw frames after the content");
});

test("decoding verifies the signature, keeps identities and exposes buffers", () => {
  const signer = new Signer("hmac-sha256", KEY);
  const frames = encodeMessage([Buffer.from("id-a"), Buffer.from("id-b")], message([Buffer.from("raw bytes")]), signer);
  const { identities, message: decoded } = decodeFrames(frames, signer);
  assert.deepEqual(identities.map(String), ["id-a", "id-b"]);
  assert.deepEqual(decoded.content, { comm_id: "c", data: { x: 1 } });
  assert.deepEqual(decoded.buffers.map(String), ["raw bytes"]);
});

test("a changed buffer does not break the signature; a changed signed frame or key does", () => {
  const signer = new Signer("hmac-sha256", KEY);
  const frames = encodeMessage([], message([Buffer.from("one")]), signer);
  assert.doesNotThrow(() => decodeFrames([...frames.slice(0, 7), Buffer.from("two")], signer));
  const tampered = [...frames];
  tampered[5] = Buffer.from(JSON.stringify({ injected: true }));
  assert.throws(
    () => decodeFrames(tampered, signer),
    (e) => e instanceof WireError && /invalid signature/.test(e.message),
  );
  assert.throws(() => decodeFrames(frames, new Signer("hmac-sha256", "another key")), /invalid signature/);
  const shortSignature = [...frames];
  shortSignature[1] = Buffer.from("abc");
  assert.throws(() => decodeFrames(shortSignature, signer), /invalid signature/);
});

test("malformed messages are WireErrors; an empty key signs nothing and accepts anything", () => {
  const signer = new Signer("hmac-sha256", KEY);
  assert.throws(() => decodeFrames([Buffer.from("no delimiter")], signer), /delimiter/);
  assert.throws(() => decodeFrames([Buffer.from("<IDS|MSG>"), Buffer.from("sig")], signer), /frames after the delimiter/);
  const unsigned = new Signer("hmac-sha256", "");
  const frames = encodeMessage([], message(), unsigned);
  assert.equal(frames[1].length, 0);
  assert.doesNotThrow(() => decodeFrames(frames, unsigned));
  assert.throws(() => new Signer("hmac-nosuchdigest", KEY), /unsupported signature_scheme/);
});
