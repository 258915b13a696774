// Inversion cache: exact round trips of synthetic records, content addressing, and every way an entry can be
// missing, corrupt, half-written or made for another request — each must fail (or be skipped) clearly.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { InversionCache } from "../src/fatezero/inversionCache";
import type { InversionKey, InversionRecord } from "../src/fatezero/inversionRecord";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-inversion-cache-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function freshDir(): string {
  return fs.mkdtempSync(path.join(tmp, `c${counter++}-`));
}

function makeKey(overrides: Partial<InversionKey> = {}): InversionKey {
  return {
    model: "model-hash-1",
    frames: "frames-hash-1",
    frameCount: 2,
    height: 32,
    width: 48,
    prompt: "a silver jeep driving down a curvy road",
    steps: 3,
    unet: { selectors: [0, "mid"], leastScChannel: 640, subfolder: "unet" },
    posterior: { mode: "sample", seed: 7 },
    queryLimit: 16,
    ...overrides,
  };
}

/** Deterministic values that include the bit patterns a lossy copy would change. */
function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * 8;
  }
  a.set([NaN, -0, Infinity, -Infinity, 1e-45].slice(0, n));
  return a;
}

/** A record for `key`: latent 4×6 (scale 8), 5 token columns, 2×3 mask maps and two groups. */
function makeRecord(key: InversionKey = makeKey(), seed = 1): InversionRecord {
  const f = key.frameCount;
  const tokens = 5;
  const latent = 4 * f * (key.height / 8) * (key.width / 8);
  return {
    key,
    latents: Array.from({ length: key.steps + 1 }, (_, i) => values(latent, seed * 100 + i)),
    latentShape: [4, f, key.height / 8, key.width / 8],
    tokens,
    maskMaps: {
      height: 2,
      width: 3,
      heads: 40,
      tokens,
      steps: Array.from({ length: key.steps }, (_, i) => values(f * 6 * tokens, seed * 200 + i)),
    },
    groups: [
      {
        group: { place: "down", level: 1, height: 4, width: 6, layers: 2, heads: 16 },
        steps: Array.from({ length: key.steps }, (_, i) => values(f * 24 * tokens, seed * 300 + i)),
      },
      {
        group: { place: "up", level: 2, height: 2, width: 3, layers: 3, heads: 24 },
        steps: Array.from({ length: key.steps }, (_, i) => values(f * 6 * tokens, seed * 400 + i)),
      },
    ],
  };
}

function bits(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function assertBitEqual(actual: Float32Array[], expected: Float32Array[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: count`);
  actual.forEach((a, i) => assert.ok(bits(a).equals(bits(expected[i])), `${what} ${i} is bit-equal`));
}

function assertSameRecord(actual: InversionRecord, expected: InversionRecord): void {
  assert.deepEqual(actual.key, expected.key);
  assert.equal(actual.tokens, expected.tokens);
  assertBitEqual(actual.latents, expected.latents, "latent");
  assert.ok(actual.maskMaps && expected.maskMaps);
  assert.deepEqual(
    [actual.maskMaps.height, actual.maskMaps.width, actual.maskMaps.heads],
    [expected.maskMaps.height, expected.maskMaps.width, expected.maskMaps.heads],
  );
  assertBitEqual(actual.maskMaps.steps, expected.maskMaps.steps, "mask map");
  assert.equal(actual.groups.length, expected.groups.length);
  actual.groups.forEach((g, i) => {
    assert.deepEqual(g.group, expected.groups[i].group);
    assertBitEqual(g.steps, expected.groups[i].steps, `group ${i} map`);
  });
}

/** Assert that `fn` throws a corruption error naming the entry folder. */
function assertCorrupt(fn: () => unknown, entry: string, detail?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /corrupt/);
    assert.match(e.message, /can be deleted/);
    assert.ok(e.message.includes(entry), `message names the folder: ${e.message}`);
    if (detail) assert.match(e.message, detail);
    return true;
  });
}

test("a saved record loads back bit for bit", () => {
  const cache = new InversionCache(freshDir());
  const record = makeRecord();
  const entry = cache.save(record);
  assert.equal(path.basename(entry), InversionCache.idOf(record.key));
  assert.ok(cache.has(record.key));
  const loaded = cache.load(record.key);
  assert.ok(loaded);
  assertSameRecord(loaded, record);
  assert.deepEqual(fs.readdirSync(entry).sort(), ["inversion.safetensors", "meta.json"]);
});

test("a record without mask maps round-trips without them", () => {
  const cache = new InversionCache(freshDir());
  const record = makeRecord();
  delete record.maskMaps;
  cache.save(record);
  const loaded = cache.load(record.key);
  assert.ok(loaded);
  assert.equal(loaded.maskMaps, undefined);
  assertBitEqual(loaded.latents, record.latents, "latent");
});

test("idOf ignores property order and is a sha256 hex digest", () => {
  const key = makeKey();
  const reordered: InversionKey = {
    queryLimit: key.queryLimit,
    posterior: { seed: 7, mode: "sample" },
    unet: { subfolder: "unet", leastScChannel: 640, selectors: [0, "mid"] },
    steps: key.steps,
    prompt: key.prompt,
    width: key.width,
    height: key.height,
    frameCount: key.frameCount,
    frames: key.frames,
    model: key.model,
  };
  assert.match(InversionCache.idOf(key), /^[0-9a-f]{64}$/);
  assert.equal(InversionCache.idOf(reordered), InversionCache.idOf(key));
});

test("keys that differ in any field get different ids", () => {
  const variants: Partial<InversionKey>[] = [
    { model: "model-hash-2" },
    { frames: "frames-hash-2" },
    { frameCount: 3 },
    { height: 64 },
    { width: 64 },
    { prompt: "a silver jeep driving down a curvy road " },
    { steps: 4 },
    { unet: { selectors: ["mid", 0], leastScChannel: 640, subfolder: "unet" } },
    { unet: { selectors: [0, "mid"], leastScChannel: 320, subfolder: "unet" } },
    { unet: { selectors: [0, "mid"], leastScChannel: 640, subfolder: "unet_tav" } },
    { posterior: { mode: "mean" } },
    { posterior: { mode: "sample", seed: 8 } },
    { posterior: { mode: "eps", hash: "abc" } },
    { queryLimit: 64 },
    { inversionIterations: 1 },
    { inversionIterations: 3 },
  ];
  const ids = new Set([makeKey(), ...variants.map((v) => makeKey(v))].map((k) => InversionCache.idOf(k)));
  assert.equal(ids.size, variants.length + 1);
});

test("a missing key loads as undefined", () => {
  const cache = new InversionCache(freshDir());
  assert.equal(cache.load(makeKey()), undefined);
  assert.equal(cache.has(makeKey()), false);
  cache.save(makeRecord());
  assert.equal(cache.load(makeKey({ prompt: "another prompt" })), undefined);
  assert.deepEqual(new InversionCache(freshDir()).list(), []);
});

test("entries survive a restart: a new instance on the same folder loads them", () => {
  const dir = freshDir();
  const record = makeRecord();
  new InversionCache(dir).save(record);
  const loaded = new InversionCache(dir).load(makeKey());
  assert.ok(loaded);
  assertSameRecord(loaded, record);
});

test("a flipped payload byte is reported as a corrupt entry", () => {
  const cache = new InversionCache(freshDir());
  const entry = cache.save(makeRecord());
  const payload = path.join(entry, "inversion.safetensors");
  const bytes = fs.readFileSync(payload);
  bytes[bytes.length - 10] ^= 0x01;
  fs.writeFileSync(payload, bytes);
  assertCorrupt(() => cache.load(makeKey()), entry, /sha256/);
  assertCorrupt(() => cache.loadFrom(entry), entry, /sha256/);
});

test("a truncated payload is reported as a corrupt entry", () => {
  const cache = new InversionCache(freshDir());
  const entry = cache.save(makeRecord());
  const payload = path.join(entry, "inversion.safetensors");
  fs.truncateSync(payload, fs.statSync(payload).size - 100);
  assertCorrupt(() => cache.load(makeKey()), entry, /bytes/);
  fs.rmSync(payload);
  assertCorrupt(() => cache.load(makeKey()), entry, /missing/);
});

test("a tampered meta.json is reported clearly, naming the file", () => {
  const record = makeRecord();
  const edits: [string, (meta: Record<string, any>) => string, RegExp][] = [
    ["not JSON", (m) => JSON.stringify(m).slice(0, -3), /not valid JSON/],
    ["wrong version", (m) => JSON.stringify({ ...m, version: 99 }), /version 99/],
    ["missing field", (m) => JSON.stringify({ ...m, tokens: undefined }), /tokens must be a positive integer/],
    ["bad key", (m) => JSON.stringify({ ...m, key: { ...m.key, steps: "many" } }), /steps must be a positive integer/],
    ["edited prompt", (m) => JSON.stringify({ ...m, key: { ...m.key, prompt: "edited" } }), /does not belong to this folder/],
    ["edited tokens", (m) => JSON.stringify({ ...m, tokens: 6 }), /does not describe/],
    [
      "edited group",
      (m) => JSON.stringify({ ...m, groups: [{ ...m.groups[0], group: { ...m.groups[0].group, level: 3 } }, m.groups[1]] }),
      /does not describe/,
    ],
  ];
  for (const [what, edit, detail] of edits) {
    const cache = new InversionCache(freshDir());
    const entry = cache.save(record);
    const metaPath = path.join(entry, "meta.json");
    fs.writeFileSync(metaPath, edit(JSON.parse(fs.readFileSync(metaPath, "utf8"))));
    assert.throws(
      () => cache.load(record.key),
      (e: unknown) => {
        assert.ok(e instanceof Error, what);
        assert.match(e.message, detail, what);
        assert.match(e.message, /corrupt.*can be deleted/s, what);
        assert.ok(e.message.includes(entry), `${what}: names the folder`);
        if (!/does not/.test(detail.source)) assert.ok(e.message.includes(metaPath), `${what}: names meta.json`);
        return true;
      },
    );
  }
});

test("an edited key in meta.json is caught through loadFrom as well", () => {
  const cache = new InversionCache(freshDir());
  const entry = cache.save(makeRecord());
  const metaPath = path.join(entry, "meta.json");
  const meta = JSON.parse(fs.readFileSync(metaPath, "utf8"));
  fs.writeFileSync(metaPath, JSON.stringify({ ...meta, key: { ...meta.key, prompt: "edited" } }));
  assertCorrupt(() => cache.loadFrom(entry, makeKey({ prompt: "edited" })), entry, /does not describe/);
});

test("loadFrom with a different expected key lists each differing field", () => {
  const cache = new InversionCache(freshDir());
  const entry = cache.save(makeRecord());
  const requested = makeKey({
    model: "other-model",
    prompt: "a red car",
    steps: 50,
    frames: "frames-hash-9",
    unet: { selectors: [0, "mid"], leastScChannel: 320, subfolder: "unet" },
  });
  assert.throws(
    () => cache.loadFrom(entry, requested),
    (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /different request/);
      assert.match(e.message, /model: stored "model-hash-1", requested "other-model"/);
      assert.match(e.message, /prompt: stored "a silver jeep driving down a curvy road", requested "a red car"/);
      assert.match(e.message, /steps: stored 3, requested 50/);
      assert.match(e.message, /frames: stored "frames-hash-1", requested "frames-hash-9"/);
      assert.match(e.message, /unet\.leastScChannel: stored 640, requested 320/);
      assert.doesNotMatch(e.message, /height|width|queryLimit|posterior|selectors/);
      return true;
    },
  );
  assert.throws(
    () => cache.loadFrom(entry, makeKey({ posterior: { mode: "mean" } })),
    /posterior\.mode: stored "sample", requested "mean"[\s\S]*posterior\.seed: stored 7, requested \(absent\)/,
  );
  const loaded = cache.loadFrom(entry, makeKey());
  assertSameRecord(loaded, makeRecord());
});

test("an interrupted save is ignored by load, has and list, and cleaned once its process is gone", async () => {
  const dir = freshDir();
  const cache = new InversionCache(dir);
  const key = makeKey();
  const id = InversionCache.idOf(key);
  const root = path.join(dir, "inversions");
  fs.mkdirSync(root, { recursive: true });
  const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  const running = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
  try {
    // What a save killed mid-write leaves: a half payload, or a payload and meta.json but no rename.
    const partial = path.join(root, `.tmp-${id}-${dead}-0123456789ab`);
    fs.mkdirSync(partial);
    fs.writeFileSync(path.join(partial, `inversion.safetensors.tmp-${dead}`), Buffer.alloc(1000, 7));
    const live = path.join(root, `.tmp-${id}-${running.pid}-ba9876543210`);
    cache.save(makeRecord());
    fs.renameSync(path.join(root, id), live);
    assert.equal(cache.load(key), undefined);
    assert.equal(cache.has(key), false);
    assert.deepEqual(cache.list(), []);
    assert.equal(fs.existsSync(partial), false, "the folder of a save whose process is gone is removed");
    assert.ok(fs.existsSync(live), "a running save's folder is kept");
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill();
    await exited;
    new InversionCache(dir);
    assert.equal(fs.existsSync(live), false, "a new cache removes it once its process is gone");
    assert.ok(cache.load(makeKey({ prompt: "x" })) === undefined);
    cache.save(makeRecord());
    assert.ok(cache.load(key));
  } finally {
    running.kill();
  }
});

test("loadFrom refuses paths that are not entry folders", () => {
  const dir = freshDir();
  const cache = new InversionCache(dir);
  const entry = cache.save(makeRecord());
  assert.throws(() => cache.loadFrom("/"), /is not an inversion cache entry: it has no meta\.json/);
  assert.throws(() => cache.loadFrom(path.join(entry, "..", "..")), /has no meta\.json/);
  assert.throws(() => cache.loadFrom(path.join(entry, "meta.json")), /is not a folder/);
  assert.throws(() => cache.loadFrom(path.join(dir, "no-such-entry")), /no such inversion cache entry folder/);
  // A meta.json that is a link is not followed, even if it points at a valid one.
  const linked = path.join(dir, "linked");
  fs.mkdirSync(linked);
  fs.symlinkSync(path.join(entry, "meta.json"), path.join(linked, "meta.json"));
  fs.copyFileSync(path.join(entry, "inversion.safetensors"), path.join(linked, "inversion.safetensors"));
  assert.throws(() => cache.loadFrom(linked), /has no meta\.json/);
  // A copy of an entry elsewhere (or a link to one) is accepted.
  const copy = path.join(dir, "copy");
  fs.cpSync(entry, copy, { recursive: true });
  assertSameRecord(cache.loadFrom(copy, makeKey()), makeRecord());
  fs.symlinkSync(entry, path.join(dir, "link"));
  assertSameRecord(cache.loadFrom(path.join(dir, "link")), makeRecord());
});

test("saving an existing key keeps the intact entry and replaces a corrupt one", () => {
  const cache = new InversionCache(freshDir());
  const entry = cache.save(makeRecord(makeKey(), 1));
  const before = fs.readFileSync(path.join(entry, "meta.json"), "utf8");
  assert.equal(cache.save(makeRecord(makeKey(), 2)), entry);
  assert.equal(fs.readFileSync(path.join(entry, "meta.json"), "utf8"), before, "the first writer's entry is kept");
  assertSameRecord(cache.load(makeKey())!, makeRecord(makeKey(), 1));
  fs.truncateSync(path.join(entry, "inversion.safetensors"), 10);
  cache.save(makeRecord(makeKey(), 3));
  assertSameRecord(cache.load(makeKey())!, makeRecord(makeKey(), 3));
  assert.deepEqual(fs.readdirSync(path.dirname(entry)), [path.basename(entry)], "no temporary folders remain");
});

test("list reports entries with sizes; remove deletes them", () => {
  const cache = new InversionCache(freshDir());
  const a = cache.save(makeRecord(makeKey()));
  const b = cache.save(makeRecord(makeKey({ prompt: "a red car" })));
  const listed = cache.list();
  assert.deepEqual(listed.map((e) => e.id).sort(), [path.basename(a), path.basename(b)].sort());
  for (const e of listed) {
    const dir = e.id === path.basename(a) ? a : b;
    const size = fs.statSync(path.join(dir, "inversion.safetensors")).size + fs.statSync(path.join(dir, "meta.json")).size;
    assert.equal(e.bytes, size);
    assert.ok(e.bytes > 4 * (3 + 1) * 4 * 2 * 4 * 6, "at least the latents");
    assert.ok(e.created instanceof Date && !Number.isNaN(e.created.getTime()));
  }
  assert.equal(listed.find((e) => e.id === path.basename(b))?.key.prompt, "a red car");
  assert.equal(cache.remove(makeKey()), true);
  assert.equal(cache.remove(makeKey()), false);
  assert.equal(cache.load(makeKey()), undefined);
  assert.deepEqual(
    cache.list().map((e) => e.id),
    [path.basename(b)],
  );
});

test("save rejects records whose arrays do not match their shapes", () => {
  const dir = freshDir();
  const cache = new InversionCache(dir);
  const shortLatent = makeRecord();
  shortLatent.latents[2] = shortLatent.latents[2].subarray(1);
  assert.throws(() => cache.save(shortLatent), /latent 2 has 191 values, expected \[4, 2, 4, 6\] = 192/);
  const badGroup = makeRecord();
  badGroup.groups[1].steps[0] = new Float32Array(5);
  assert.throws(() => cache.save(badGroup), /group 1 0 has 5 values/);
  const oddLatent = makeRecord();
  oddLatent.latents = oddLatent.latents.map(() => new Float32Array(4 * 2 * 7));
  assert.throws(() => cache.save(oddLatent), /latent 0 has 56 values, expected \[4, 2, 4, 6\]/);
  const wrongFrames = makeRecord();
  wrongFrames.latentShape = [4, 3, 4, 6];
  assert.throws(() => cache.save(wrongFrames), /latent shape is \[4,3,4,6\], expected \[C, 2, h, w\]/);
  assert.deepEqual(fs.readdirSync(dir), [], "a rejected save leaves nothing behind");
});
