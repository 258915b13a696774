// Property tests over the parsers that read untrusted bytes (safetensors headers, YAML edit configs, Jupyter
// wire frames and their signatures): whatever the input, each either succeeds or throws its own documented
// error type, never reads outside what it was given, and returns quickly. Fixed seeds and run counts keep CI
// deterministic and bounded (a few seconds per property).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { SafetensorsError, SafetensorsFile } from "../src/checkpoint/safetensors";
import { parseFatezeroConfig } from "../src/config/fatezeroConfig";
import { ConfigError } from "../src/config/yamlDocument";
import { Signer } from "../kernel/signing";
import { decodeFrames, encodeMessage, makeHeader, WireError } from "../kernel/wireMessage";

const SEED = 1234;
/** The slowest a single parse may take on any input before it counts as a hang. */
const MAX_PARSE_MS = 2000;

/** Run `parse`; anything thrown must be an `allowed` error, and the call must return within MAX_PARSE_MS. */
function parsesOrRefuses<T>(parse: () => T, allowed: abstract new (...args: never[]) => Error): T | undefined {
  const start = performance.now();
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof allowed)) throw new Error(`threw ${String(e)} (${(e as Error)?.stack}), not a ${allowed.name}`);
    return undefined;
  } finally {
    const ms = performance.now() - start;
    assert.ok(ms < MAX_PARSE_MS, `one parse took ${ms.toFixed(0)} ms`);
  }
}

// ---- safetensors headers --------------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-parser-properties-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

const DTYPES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];
/** Numbers a hostile header may hold where sizes belong. */
const number = fc.oneof(
  fc.nat(64),
  fc.integer(),
  fc.constantFrom(-1, 2 ** 53, 2 ** 53 + 2, 1e308, -0, 0.5, Number.MAX_SAFE_INTEGER),
  fc.double(),
);
const entry = fc.record(
  {
    dtype: fc.oneof(fc.constantFrom(...DTYPES), fc.string(), fc.constantFrom("__proto__", "toString"), fc.anything()),
    shape: fc.oneof(fc.array(fc.nat(8), { maxLength: 4 }), fc.array(number, { maxLength: 6 }), fc.anything()),
    data_offsets: fc.oneof(fc.tuple(fc.nat(256), fc.nat(256)), fc.array(number, { maxLength: 3 }), fc.anything()),
  },
  { requiredKeys: [] },
);
const tensorName = fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "__metadata__", "hasOwnProperty"));
const header = fc.oneof(
  fc.dictionary(tensorName, entry, { maxKeys: 6 }),
  fc.dictionary(tensorName, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
  fc.jsonValue({ maxDepth: 3 }),
);
/** A whole file: a header (JSON, perhaps cut or corrupted), a length field that may lie, and data bytes. */
const safetensorsBytes = fc
  .record({
    header,
    cut: fc.option(fc.nat(400)),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    length: fc.oneof(fc.constant(undefined), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.nat(600).map(BigInt)),
    data: fc.uint8Array({ maxLength: 300 }),
  })
  .map(({ header, cut, flips, length, data }) => {
    let json = Buffer.from(JSON.stringify(header) ?? "", "utf8");
    if (cut !== null) json = json.subarray(0, cut);
    for (const [at, byte] of flips) if (json.length > 0) json[at % json.length] = byte;
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(length ?? BigInt(json.length));
    return Buffer.concat([len, json, data]);
  });

test("safetensors: any bytes open or fail with a SafetensorsError; every tensor read stays inside the file", () => {
  const file = path.join(tmp, "fuzz.safetensors");
  let opened = 0;
  fc.assert(
    fc.property(fc.oneof(safetensorsBytes, fc.uint8Array({ maxLength: 64 })), (bytes) => {
      fs.writeFileSync(file, bytes);
      const st = parsesOrRefuses(() => SafetensorsFile.open(file), SafetensorsError);
      if (!st) return;
      opened++;
      assert.equal(st.fileSize, bytes.length);
      for (const e of st.entries.values()) {
        assert.ok(e.fileOffset >= 8 && e.fileOffset + e.byteLength <= bytes.length, `${e.name} lies inside the file`);
        assert.deepEqual(st.readBytes(e.name), bytes.subarray(e.fileOffset, e.fileOffset + e.byteLength));
      }
    }),
    { seed: SEED, numRuns: 600 },
  );
  assert.ok(opened > 0, "some generated files are valid, so the entry checks ran");
});

// ---- YAML edit configs ------------------------------------------------------------------------------------

/** A valid config, the starting point the generators damage. */
const BASE = {
  pretrained_model_path: "tiny",
  dataset_config: { path: "v.mp4", prompt: "a jeep", n_sample_frame: 4 },
  editing_config: {
    num_inference_steps: 10,
    guidance_scale: 7.5,
    editing_prompts: ["a jeep", "a red jeep"],
    prompt2prompt_edit: true,
    p2p_config: {
      0: { cross_replace_steps: 0.5, self_replace_steps: 0.5 },
      1: { cross_replace_steps: { default_: 0.8 }, self_replace_steps: 0.6, eq_params: { words: ["red"], values: [2] } },
    },
  },
  seed: 0,
};
/** Paths into BASE worth replacing (values deep inside, and whole sections). */
const PATHS = [
  ["pretrained_model_path"],
  ["dataset_config"],
  ["dataset_config", "prompt"],
  ["dataset_config", "n_sample_frame"],
  ["dataset_config", "offset"],
  ["editing_config", "guidance_scale"],
  ["editing_config", "editing_prompts"],
  ["editing_config", "p2p_config"],
  ["editing_config", "p2p_config", "1"],
  ["editing_config", "p2p_config", "1", "eq_params"],
  ["editing_config", "p2p_config", "1", "cross_replace_steps"],
  ["editing_config", "p2p_config", "1", "blend_words"],
  ["model_config"],
  ["seed"],
];
/** Text that OmegaConf-style interpolation or YAML treat specially. */
const yamlish = fc.oneof(
  fc.string(),
  fc.constantFrom("${seed}", "${..prompt}", "${editing_config}", "${a.b.c}", "${}", "${${seed}}", "${constructor}", "${__proto__}"),
  fc.constantFrom("*a", "&a [*a, *a]", "!!python/object:os.system", "~", ".inf", "-.nan", "0x1F", "1e308", "'", "{"),
  fc
    .array(fc.constantFrom("${", "}", ".", "..", "seed", "editing_config", "prompt", "a", " ", ":"), { maxLength: 12 })
    .map((p) => p.join("")),
);
const yamlValue = fc.oneof(
  yamlish,
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(
    fc.oneof(yamlish, fc.constantFrom("__proto__", "constructor", "default_", "words", "values")),
    fc.jsonValue({ maxDepth: 2 }),
    {
      maxKeys: 4,
    },
  ),
);

function withValueAt(root: unknown, keys: readonly string[], value: unknown): unknown {
  if (keys.length === 0) return value;
  const node = typeof root === "object" && root !== null && !Array.isArray(root) ? root : {};
  // defineProperty: a "__proto__" key is written as a key, as the YAML reader does.
  const copy = Object.assign(Object.create(null) as Record<string, unknown>, node);
  Object.defineProperty(copy, keys[0], {
    value: withValueAt((node as Record<string, unknown>)[keys[0]], keys.slice(1), value),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return copy;
}

const configText = fc.oneof(
  fc
    .array(fc.tuple(fc.constantFrom(...PATHS), yamlValue), { minLength: 1, maxLength: 4 })
    .map((edits) => stringify(edits.reduce<unknown>((doc, [keys, value]) => withValueAt(doc, keys, value), BASE))),
  fc.tuple(fc.nat(), fc.string()).map(([at, text]) => {
    const base = stringify(BASE);
    const i = at % base.length;
    return base.slice(0, i) + text + base.slice(i);
  }),
  fc.string({ maxLength: 200 }),
);

test("YAML configs: any text parses to a config or fails with a ConfigError", () => {
  let parsed = 0;
  fc.assert(
    fc.property(configText, (text) => {
      if (parsesOrRefuses(() => parseFatezeroConfig(text, "fuzz.yaml"), ConfigError)) parsed++;
    }),
    { seed: SEED, numRuns: 1500 },
  );
  assert.ok(parsed > 0, "some generated configs are valid, so the later checks ran");
});

// ---- Jupyter wire frames and signatures ------------------------------------------------------------------

const KEY = "fuzz-key";
const DELIMITER = Buffer.from("<IDS|MSG>");
const idOrJunk = fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor"), fc.jsonValue({ maxDepth: 1 }));
const jsonFrame = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? "null")),
  fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }).map((v) => Buffer.from(JSON.stringify(v))),
  fc.record({ msg_type: idOrJunk, msg_id: idOrJunk }, { requiredKeys: [] }).map((h) => Buffer.from(JSON.stringify(h))),
  fc
    .constantFrom('{"__proto__": {"msg_type": "x", "msg_id": "y"}}', '{"msg_type": "__proto__", "msg_id": "1"}', "\u0000", "{")
    .map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
);
/** Frames around a delimiter; the signature is right for the four frames after it, or arbitrary. */
const wireFrames = fc
  .record({
    identities: fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 3 }),
    delimiter: fc.boolean(),
    signed: fc.oneof(fc.array(jsonFrame, { minLength: 4, maxLength: 4 }), fc.array(jsonFrame, { maxLength: 6 })),
    signature: fc.oneof(fc.constant("valid"), fc.uint8Array({ maxLength: 70 })),
    buffers: fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 2 }),
  })
  .map(({ identities, delimiter, signed, signature, buffers }) => {
    const valid = Buffer.from(
      createHmac("sha256", KEY)
        .update(Buffer.concat(signed.slice(0, 4)))
        .digest("hex"),
    );
    const sig = signature === "valid" ? valid : Buffer.from(signature);
    const middle = delimiter ? [DELIMITER, sig] : [sig];
    return [...identities, ...middle, ...signed, ...buffers].map((f) => Buffer.from(f));
  });

test("wire frames: any frames decode or fail with a WireError; a decoded message is what was signed", () => {
  let decoded = 0;
  fc.assert(
    fc.property(wireFrames, (frames) => {
      // A fresh signer each time: the replay check would otherwise refuse a repeated generated message.
      const envelope = parsesOrRefuses(() => decodeFrames(frames, new Signer("hmac-sha256", KEY)), WireError);
      if (!envelope) return;
      decoded++;
      const { message } = envelope;
      assert.equal(typeof message.header.msg_type, "string");
      assert.equal(typeof message.header.msg_id, "string");
      const at = frames.findIndex((f) => f.equals(DELIMITER));
      assert.deepEqual(message.buffers, frames.slice(at + 6));
    }),
    { seed: SEED, numRuns: 2000 },
  );
  assert.ok(decoded > 0, "some generated messages are valid");
});

test("wire frames: what the kernel encodes decodes to the same message, and any change to a signed byte is refused", () => {
  const signer = new Signer("hmac-sha256", KEY);
  fc.assert(
    fc.property(
      fc.jsonValue({ maxDepth: 3 }),
      fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 2 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (content, buffers, at, xor) => {
        const message = {
          header: makeHeader("comm_msg", "s"),
          parent_header: {},
          metadata: {},
          content: { data: content },
          buffers: buffers.map((b) => Buffer.from(b)),
        };
        const frames = encodeMessage([Buffer.from("id")], message, signer);
        const { buffers: received, ...parts } = decodeFrames(frames, new Signer("hmac-sha256", KEY)).message;
        assert.deepEqual(parts, JSON.parse(JSON.stringify({ ...message, buffers: undefined })));
        assert.deepEqual(received, message.buffers);
        const signed = Buffer.concat(frames.slice(3, 7));
        const i = at % signed.length;
        const tampered = frames.map((f) => Buffer.from(f));
        let frame = 3;
        let offset = i;
        while (offset >= tampered[frame].length) offset -= tampered[frame++].length;
        tampered[frame][offset] ^= xor;
        assert.throws(() => decodeFrames(tampered, new Signer("hmac-sha256", KEY)), WireError);
      },
    ),
    { seed: SEED, numRuns: 500 },
  );
});

test("signatures: verify accepts exactly the HMAC of the frames and never throws on odd signatures", () => {
  fc.assert(
    fc.property(
      fc.string(),
      fc.array(fc.uint8Array({ maxLength: 32 }), { maxLength: 4 }),
      fc.uint8Array({ maxLength: 80 }),
      (key, frames, signature) => {
        const signer = new Signer("hmac-sha256", key);
        const expected = key === "" ? "" : createHmac("sha256", key).update(Buffer.concat(frames)).digest("hex");
        assert.equal(signer.sign(frames), expected);
        assert.equal(signer.verify(frames, Buffer.from(expected)), true);
        assert.equal(signer.verify(frames, signature), key === "" || Buffer.from(signature).equals(Buffer.from(expected)));
      },
    ),
    { seed: SEED, numRuns: 1000 },
  );
});
