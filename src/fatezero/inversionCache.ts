// The on-disk inversion cache: content-addressed entries that let a notebook re-run only the edit
// loop, survive a kernel restart, are published atomically and refuse, with a clear message, anything that
// is corrupt or was made for a different request.
//
// Layout: `<dir>/inversions/<sha256 of the key>/` holding `inversion.safetensors` (every array, F32) and
// `meta.json` (key, token count, group descriptors, shapes, the payload's byte size and sha256, the format
// version). The payload's own `__metadata__` repeats the layout, so an edited meta.json is caught as well.
//
// Size of one entry for 8 frames × 50 steps × 512² (latent 64², FateZero's queryLimit 32², SD 1.x, prompt of
// T token columns, maps stored for the five groups down 32² + down 16² + mid 8² + up 16² + up 32²):
//   latents 51 × [4, 8, 64, 64] f32      = 26,738,688 B
//   mask maps 50 × [8, 16·16, T] f32     =    409,600 B × T
//   group maps 50 × [8, 2624, T] f32     =  4,198,400 B × T   (2624 = 1024 + 256 + 64 + 256 + 1024 queries)
//   total 26,738,688 + 4,608,000 × T B:  ≈ 100.5 MB for T = 16, ≈ 381.6 MB for the maximum T = CLIP_TOKENS.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultCacheDir } from "../onnx/session";
import { removeOrphans } from "../util/orphans";
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from "../checkpoint/safetensors";
import type { InversionKey, InversionRecord, LatentShape, MapGroup } from "./inversionRecord";

const FORMAT = "fatezero-inversion";
/** Bump when the stored layout changes: it is part of every id, so old entries are simply not found. */
const VERSION = 1;
const PAYLOAD = "inversion.safetensors";
const META = "meta.json";
const ENTRY_NAME = /^[0-9a-f]{64}$/;
const TMP_PREFIX = ".tmp-";
/** A save's temporary folder: `.tmp-<id>-<pid>-<random>`. */
const ORPHAN = /^\.tmp-[0-9a-f]{64}-(\d+)-[0-9a-f]+$/;
/** meta.json holds a key and a few descriptors; anything bigger is not ours. */
const MAX_META_BYTES = 4 * 1024 * 1024;

/** One entry as `list()` reports it. */
export interface CacheEntryInfo {
  id: string;
  key: InversionKey;
  /** Bytes on disk (payload and meta.json). */
  bytes: number;
  created: Date;
}

/** Everything about an entry except the arrays; meta.json and the payload's metadata both hold it. */
interface Layout {
  key: InversionKey;
  tokens: number;
  latents: { count: number; shape: number[] };
  maskMaps: { height: number; width: number; heads: number; tokens: number; steps: number } | null;
  groups: { group: MapGroup; steps: number }[];
}

interface Meta extends Layout {
  format: string;
  version: number;
  created: string;
  payload: { bytes: number; sha256: string };
}

/** The inversion cache in one folder; see the file comment for the layout and entry sizes. */
export class InversionCache {
  private readonly root: string;

  /** The cache under `dir` (default: $FATEZERO_CACHE or ~/.cache/fatezero, shared with the graph cache). */
  constructor(dir: string = defaultCacheDir()) {
    this.root = path.join(dir, "inversions");
    // Saves of processes that were killed leave their temporary folders (hundreds of MB for SD): remove them.
    removeOrphans(this.root, ORPHAN);
  }

  /** The content address of a key: sha256 hex of its canonical JSON (sorted keys) and the format version. */
  static idOf(key: InversionKey): string {
    const body = canonicalJson({ format: FORMAT, version: VERSION, key: normalizeKey(key, "key") });
    return crypto.createHash("sha256").update(body, "utf8").digest("hex");
  }

  /** Whether an entry for the key is present (not verified; `load` verifies). */
  has(key: InversionKey): boolean {
    return isRegularFile(path.join(this.entryDir(InversionCache.idOf(key)), META));
  }

  /** The verified record for a key, or undefined when the cache has none. */
  load(key: InversionKey): InversionRecord | undefined {
    const id = InversionCache.idOf(key);
    const dir = this.entryDir(id);
    if (!fs.existsSync(dir)) return undefined;
    return readEntry(dir, normalizeKey(key, "key"), id);
  }

  /** Store a record atomically and return its entry folder; an existing intact entry for the key is kept. */
  save(record: InversionRecord): string {
    const key = normalizeKey(record.key, "record.key");
    const layout = layoutOf(record, key);
    const id = InversionCache.idOf(key);
    const final = this.entryDir(id);
    fs.mkdirSync(this.root, { recursive: true });
    const tmp = this.tmpDir(id);
    fs.mkdirSync(tmp);
    try {
      const arrays = [...record.latents, ...(record.maskMaps?.steps ?? []), ...record.groups.flatMap((g) => g.steps)];
      const tensors: TensorToWrite[] = tensorPlan(layout).map((t, i) => ({
        ...t,
        dtype: "F32",
        data: () => new Uint8Array(arrays[i].buffer, arrays[i].byteOffset, arrays[i].byteLength),
      }));
      const payload = path.join(tmp, PAYLOAD);
      writeSafetensors(payload, tensors, { format: FORMAT, version: String(VERSION), layout: canonicalJson(layout) });
      const meta: Meta = {
        format: FORMAT,
        version: VERSION,
        created: new Date().toISOString(),
        ...layout,
        payload: { bytes: fs.statSync(payload).size, sha256: sha256File(payload) },
      };
      writeDurably(path.join(tmp, META), `${JSON.stringify(meta, null, 2)}\n`);
      this.publish(tmp, final, id);
    } finally {
      // After a successful publish the folder is gone; otherwise this drops our partial or losing copy.
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return final;
  }

  /** Load an entry folder named by the user; throws when it is not an entry or was made for another key. */
  loadFrom(entryDir: string, expected?: InversionKey): InversionRecord {
    let real: string;
    try {
      real = fs.realpathSync(entryDir);
    } catch {
      throw new Error(`${entryDir}: no such inversion cache entry folder`);
    }
    if (!fs.statSync(real).isDirectory())
      throw new Error(`${entryDir} is not a folder: an inversion cache entry is a folder holding ${META} and ${PAYLOAD}`);
    if (!isRegularFile(path.join(real, META))) throw new Error(`${entryDir} is not an inversion cache entry: it has no ${META}`);
    return readEntry(real, expected === undefined ? undefined : normalizeKey(expected, "expected key"));
  }

  /** The entries with their sizes, oldest first; also deletes temporary folders of saves whose process is gone. */
  list(): CacheEntryInfo[] {
    if (!fs.existsSync(this.root)) return [];
    removeOrphans(this.root, ORPHAN);
    const out: CacheEntryInfo[] = [];
    for (const dirent of fs.readdirSync(this.root, { withFileTypes: true })) {
      const dir = path.join(this.root, dirent.name);
      if (dirent.name.startsWith(TMP_PREFIX)) continue;
      if (!ENTRY_NAME.test(dirent.name) || !dirent.isDirectory()) continue;
      let meta: Meta;
      try {
        meta = parseMeta(path.join(dir, META));
      } catch {
        continue;
      }
      const bytes = [PAYLOAD, META].reduce(
        (sum, name) => sum + (isRegularFile(path.join(dir, name)) ? fs.statSync(path.join(dir, name)).size : 0),
        0,
      );
      out.push({ id: dirent.name, key: meta.key, bytes, created: new Date(meta.created) });
    }
    return out.sort((a, b) => a.created.getTime() - b.created.getTime());
  }

  /** Delete the entry for a key; returns whether there was one. */
  remove(key: InversionKey): boolean {
    const id = InversionCache.idOf(key);
    const aside = this.tmpDir(id);
    try {
      // Moving it away first means a concurrent load sees the whole entry or none of it.
      fs.renameSync(this.entryDir(id), aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
    fs.rmSync(aside, { recursive: true, force: true });
    return true;
  }

  /** Rename a finished temporary folder to its final name, resolving a race with another writer. */
  private publish(tmp: string, final: string, id: string): void {
    try {
      fs.renameSync(tmp, final);
      return;
    } catch (e) {
      if (!fs.existsSync(final)) throw e;
    }
    try {
      verifyEntry(final, undefined, id);
      return;
    } catch {
      // A damaged entry would otherwise shadow every later save of this key: swap ours in.
    }
    const aside = this.tmpDir(id);
    try {
      fs.renameSync(final, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    try {
      fs.renameSync(tmp, final);
    } catch (e) {
      if (!fs.existsSync(final)) throw e;
    }
    fs.rmSync(aside, { recursive: true, force: true });
  }

  private entryDir(id: string): string {
    if (!ENTRY_NAME.test(id)) throw new Error(`invalid inversion cache id ${JSON.stringify(id)}`);
    return path.join(this.root, id);
  }

  private tmpDir(id: string): string {
    return path.join(this.root, `${TMP_PREFIX}${id}-${process.pid}-${crypto.randomBytes(6).toString("hex")}`);
  }
}

/** Verify an entry folder and read its arrays; `id`, when given, must be the folder's content address. */
function readEntry(dir: string, expected: InversionKey | undefined, id?: string): InversionRecord {
  const meta = verifyEntry(dir, expected, id);
  const payload = path.join(dir, PAYLOAD);
  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.open(payload);
  } catch (e) {
    throw corrupt(dir, (e as Error).message);
  }
  if (file.metadata.layout !== canonicalJson(layoutPart(meta))) throw corrupt(dir, `${META} does not describe ${PAYLOAD} (was it edited?)`);
  const arrays = tensorPlan(meta).map(({ name, shape }) => {
    const entry = file.entries.get(name);
    if (!entry) throw corrupt(dir, `${PAYLOAD} has no tensor "${name}"`);
    if (entry.dtype !== "F32" || entry.shape.join() !== shape.join()) {
      throw corrupt(dir, `tensor "${name}" is ${entry.dtype} [${entry.shape.join(", ")}], expected F32 [${shape.join(", ")}]`);
    }
    return file.readFloat32(name);
  });
  let next = 0;
  const take = (n: number): Float32Array[] => arrays.slice(next, (next += n));
  // Same order as tensorPlan: latents, mask maps, then the groups.
  const latents = take(meta.latents.count);
  const m = meta.maskMaps;
  const maskMaps = m ? { height: m.height, width: m.width, heads: m.heads, tokens: m.tokens, steps: take(m.steps) } : undefined;
  const groups = meta.groups.map((g) => ({ group: g.group, steps: take(g.steps) }));
  return {
    key: meta.key,
    latents,
    latentShape: meta.latents.shape as LatentShape,
    tokens: meta.tokens,
    ...(maskMaps ? { maskMaps } : {}),
    groups,
  };
}

/** Check meta.json, the key and the payload's size and hash; returns the parsed meta. */
function verifyEntry(dir: string, expected: InversionKey | undefined, id?: string): Meta {
  let meta: Meta;
  try {
    meta = parseMeta(path.join(dir, META));
  } catch (e) {
    throw corrupt(dir, (e as Error).message);
  }
  if (id !== undefined && InversionCache.idOf(meta.key) !== id)
    throw corrupt(dir, `the key in ${META} does not belong to this folder (was it edited?)`);
  if (expected !== undefined) {
    const diffs = keyDifferences(meta.key, expected);
    if (diffs.length > 0) {
      throw new Error(`inversion cache entry ${dir} was made for a different request:\n${diffs.map((d) => `  ${d}`).join("\n")}`);
    }
  }
  const payload = path.join(dir, PAYLOAD);
  if (!isRegularFile(payload)) throw corrupt(dir, `${PAYLOAD} is missing`);
  const size = fs.statSync(payload).size;
  if (size !== meta.payload.bytes) throw corrupt(dir, `${PAYLOAD} is ${size} bytes, ${META} says ${meta.payload.bytes}`);
  if (sha256File(payload) !== meta.payload.sha256) throw corrupt(dir, `${PAYLOAD} does not match the sha256 in ${META}`);
  return meta;
}

function corrupt(dir: string, problem: string): Error {
  return new Error(
    `inversion cache entry ${dir} is corrupt: ${problem}. It can be deleted (the inversion is then recomputed): rm -r "${dir}"`,
  );
}

/** Names and shapes of the payload's tensors, in storage order. */
function tensorPlan(layout: Layout): { name: string; shape: number[] }[] {
  const [, frames] = layout.latents.shape;
  const plan: { name: string; shape: number[] }[] = [];
  for (let i = 0; i < layout.latents.count; i++) plan.push({ name: `latents.${i}`, shape: layout.latents.shape });
  const m = layout.maskMaps;
  if (m) for (let s = 0; s < m.steps; s++) plan.push({ name: `mask.${s}`, shape: [frames, m.height * m.width, m.tokens] });
  layout.groups.forEach(({ group, steps }, g) => {
    for (let s = 0; s < steps; s++) plan.push({ name: `group.${g}.${s}`, shape: [frames, group.height * group.width, layout.tokens] });
  });
  return plan;
}

/** The layout of a record, after checking that every array has the size its shape needs. */
function layoutOf(record: InversionRecord, key: InversionKey): Layout {
  const fail = (problem: string): never => {
    throw new Error(`cannot cache inversion record: ${problem}`);
  };
  const frames = key.frameCount;
  if (record.latents.length === 0) fail("it has no latents");
  const shape = record.latentShape;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every(isPositiveInt) || shape[1] !== frames)
    fail(`its latent shape is ${JSON.stringify(shape)}, expected [C, ${frames}, h, w]`);
  const tokens = record.tokens;
  if (!isPositiveInt(tokens)) fail(`tokens is ${tokens}`);
  const checkArrays = (what: string, arrays: Float32Array[], shape: number[]): void => {
    const expected = shape.reduce((x, y) => x * y, 1);
    arrays.forEach((a, i) => {
      if (!(a instanceof Float32Array)) fail(`${what} ${i} is not a Float32Array`);
      if (a.length !== expected) fail(`${what} ${i} has ${a.length} values, expected [${shape.join(", ")}] = ${expected}`);
    });
  };
  checkArrays("latent", record.latents, shape);
  const checkSteps = (what: string, steps: Float32Array[], queries: number): void => checkArrays(what, steps, [frames, queries, tokens]);
  let maskMaps: Layout["maskMaps"] = null;
  if (record.maskMaps) {
    const { height, width, heads, tokens: maskTokens, steps } = record.maskMaps;
    if (![height, width, heads, maskTokens].every(isPositiveInt))
      fail(`mask maps have size ${height}×${width}, ${heads} heads and ${maskTokens} tokens`);
    checkArrays("mask maps", steps, [frames, height * width, maskTokens]);
    maskMaps = { height, width, heads, tokens: maskTokens, steps: steps.length };
  }
  const groups = record.groups.map(({ group, steps }, g) => {
    const descriptor = normalizeGroup(group, `group ${g}`);
    checkSteps(`group ${g}`, steps, descriptor.height * descriptor.width);
    return { group: descriptor, steps: steps.length };
  });
  return { key, tokens, latents: { count: record.latents.length, shape: [...shape] }, maskMaps, groups };
}

/** The fields of a Meta that the payload's metadata repeats. */
function layoutPart(meta: Meta): Layout {
  return { key: meta.key, tokens: meta.tokens, latents: meta.latents, maskMaps: meta.maskMaps, groups: meta.groups };
}

/** Read and validate meta.json; errors name the file. */
function parseMeta(file: string): Meta {
  try {
    if (!isRegularFile(file)) throw new Error("missing or not a regular file");
    if (fs.statSync(file).size > MAX_META_BYTES) throw new Error(`larger than ${MAX_META_BYTES} bytes`);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      throw new Error(`not valid JSON (${(e as Error).message})`);
    }
    return metaFrom(raw);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** The Meta in a parsed meta.json, with every field checked. */
function metaFrom(raw: unknown): Meta {
  const fail = (problem: string): never => {
    throw new Error(problem);
  };
  const o = asObject(raw, "meta.json");
  if (o.format !== FORMAT) fail(`format is ${JSON.stringify(o.format)}, expected "${FORMAT}"`);
  if (o.version !== VERSION) fail(`written by format version ${JSON.stringify(o.version)}; this build reads version ${VERSION}`);
  if (typeof o.created !== "string" || Number.isNaN(Date.parse(o.created))) fail("created is not a date");
  const key = normalizeKey(o.key, "key");
  const tokens = positiveInt(o.tokens, "tokens");
  const lat = asObject(o.latents, "latents");
  const shape = lat.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every(isPositiveInt) || shape[1] !== key.frameCount) {
    fail(`latents.shape is ${JSON.stringify(shape)}, expected [C, ${key.frameCount}, h, w]`);
  }
  let maskMaps: Layout["maskMaps"] = null;
  if (o.maskMaps !== null) {
    const m = asObject(o.maskMaps, "maskMaps");
    const [height, width, heads, maskTokens] = ["height", "width", "heads", "tokens"].map((f) => positiveInt(m[f], `maskMaps.${f}`));
    maskMaps = { height, width, heads, tokens: maskTokens, steps: count(m.steps, "maskMaps.steps") };
  }
  if (!Array.isArray(o.groups)) fail("groups is not an array");
  const groups = (o.groups as unknown[]).map((g, i) => {
    const entry = asObject(g, `groups[${i}]`);
    return { group: normalizeGroup(entry.group, `groups[${i}].group`), steps: count(entry.steps, `groups[${i}].steps`) };
  });
  const payload = asObject(o.payload, "payload");
  const sha256 = payload.sha256;
  if (typeof sha256 !== "string" || !ENTRY_NAME.test(sha256)) fail("payload.sha256 is not a sha256 hex digest");
  return {
    format: FORMAT,
    version: VERSION,
    created: o.created as string,
    key,
    tokens,
    latents: { count: positiveInt(lat.count, "latents.count"), shape: shape as number[] },
    maskMaps,
    groups,
    payload: { bytes: count(payload.bytes, "payload.bytes"), sha256: sha256 as string },
  };
}

/** A validated copy of a key holding exactly the InversionKey fields, so stray properties never change an id. */
function normalizeKey(raw: unknown, where: string): InversionKey {
  const o = asObject(raw, where);
  const str = (v: unknown, field: string): string => {
    if (typeof v !== "string") throw new Error(`${where}.${field} must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const unet = asObject(o.unet, `${where}.unet`);
  const selectors = unet.selectors;
  if (!Array.isArray(selectors) || !selectors.every((s) => typeof s === "string" || Number.isFinite(s))) {
    throw new Error(`${where}.unet.selectors must be an array of numbers and strings, got ${JSON.stringify(selectors)}`);
  }
  if (!Number.isFinite(unet.leastScChannel)) throw new Error(`${where}.unet.leastScChannel must be a number`);
  const p = asObject(o.posterior, `${where}.posterior`);
  let posterior: InversionKey["posterior"];
  if (p.mode === "mean") posterior = { mode: "mean" };
  else if (p.mode === "sample" && Number.isSafeInteger(p.seed)) posterior = { mode: "sample", seed: p.seed as number };
  else if (p.mode === "eps" && typeof p.hash === "string") posterior = { mode: "eps", hash: p.hash };
  else throw new Error(`${where}.posterior must be {mode:"mean"}, {mode:"sample",seed} or {mode:"eps",hash}, got ${JSON.stringify(p)}`);
  return {
    model: str(o.model, "model"),
    frames: str(o.frames, "frames"),
    frameCount: positiveInt(o.frameCount, `${where}.frameCount`),
    height: positiveInt(o.height, `${where}.height`),
    width: positiveInt(o.width, `${where}.width`),
    prompt: str(o.prompt, "prompt"),
    steps: positiveInt(o.steps, `${where}.steps`),
    unet: {
      selectors: [...(selectors as (number | string)[])],
      leastScChannel: unet.leastScChannel as number,
      subfolder: str(unet.subfolder, "unet.subfolder"),
    },
    posterior,
    queryLimit: positiveInt(o.queryLimit, `${where}.queryLimit`),
    ...(o.injected === undefined ? {} : { injected: str(o.injected, "injected") }),
  };
}

function normalizeGroup(raw: unknown, where: string): MapGroup {
  const g = asObject(raw, where);
  if (g.place !== "down" && g.place !== "mid" && g.place !== "up") throw new Error(`${where}.place must be "down", "mid" or "up"`);
  return {
    place: g.place,
    level: count(g.level, `${where}.level`),
    height: positiveInt(g.height, `${where}.height`),
    width: positiveInt(g.width, `${where}.width`),
    layers: positiveInt(g.layers, `${where}.layers`),
    heads: positiveInt(g.heads, `${where}.heads`),
  };
}

/** "field: stored X, requested Y" for each leaf of the key that differs. */
function keyDifferences(stored: InversionKey, requested: InversionKey): string[] {
  const a = flatten(stored);
  const b = flatten(requested);
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k}: stored ${a.get(k) ?? "(absent)"}, requested ${b.get(k) ?? "(absent)"}`);
}

function flatten(value: object, prefix = "", out = new Map<string, string>()): Map<string, string> {
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flatten(v, `${prefix}${k}.`, out);
    else out.set(`${prefix}${k}`, JSON.stringify(v));
  }
  return out;
}

/** JSON with object keys sorted at every level, so property order never changes the text. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`cannot hash the non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  throw new Error(`cannot hash a value of type ${typeof value}`);
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`${where} must be an object`);
  return v as Record<string, unknown>;
}

function isPositiveInt(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) > 0;
}

function positiveInt(v: unknown, where: string): number {
  if (!isPositiveInt(v)) throw new Error(`${where} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function count(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Error(`${where} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/** A plain file, not a link: entries never contain links, so one found there is not followed. */
function isRegularFile(p: string): boolean {
  try {
    return fs.lstatSync(p).isFile();
  } catch {
    return false;
  }
}

function sha256File(file: string): string {
  const hash = crypto.createHash("sha256");
  const buf = Buffer.alloc(4 * 1024 * 1024);
  const fd = fs.openSync(file, "r");
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

/** Write a file and fsync it, so the folder rename that publishes the entry never precedes its contents. */
function writeDurably(file: string, text: string): void {
  const fd = fs.openSync(file, "w");
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
