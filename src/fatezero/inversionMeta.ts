// What an inversion cache entry says about itself: the layout of its arrays, and meta.json (format, version,
// key, layout, the payload's size and digest), each field validated with limits when read back, plus the
// canonical key text an entry's id is the hash of.
import * as fs from "node:fs";
import { isPositiveInt, nonNegativeInt, positiveInt } from "../util/integers";
import type { InversionKey, InversionRecord, LatentShape, MapGroup } from "./inversionRecord";

export const FORMAT = "fatezero-inversion";
/** Bump when the stored layout changes: it is part of every id, so old entries are simply not found. */
export const VERSION = 1;
/** A sha256 hex digest: entry ids and payload digests. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
/** meta.json holds a key and a few descriptors; anything bigger is not ours. */
const MAX_META_BYTES = 4 * 1024 * 1024;

/** Everything about an entry except the arrays; meta.json and the payload's metadata both hold it. */
export interface Layout {
  key: InversionKey;
  tokens: number;
  latents: { count: number; shape: number[] };
  maskMaps: { height: number; width: number; heads: number; tokens: number; steps: number } | null;
  groups: { group: MapGroup; steps: number }[];
}

/** meta.json: the layout, with the format, when it was written and the payload's size and digest. */
export interface Meta extends Layout {
  format: string;
  version: number;
  created: string;
  payload: { bytes: number; sha256: string };
}

/** One part of an entry: `count` arrays of one shape, stored as `<prefix>.<i>`, named `<what> <i>` in errors. */
interface Part {
  prefix: string;
  what: string;
  count: number;
  shape: number[];
}

/** An entry's parts in storage order: the latents, the mask maps (when any), then each group's maps. */
function parts(layout: Layout): Part[] {
  const [, frames] = layout.latents.shape;
  const m = layout.maskMaps;
  return [
    { prefix: "latents", what: "latent", count: layout.latents.count, shape: layout.latents.shape },
    ...(m ? [{ prefix: "mask", what: "mask maps", count: m.steps, shape: [frames, m.height * m.width, m.tokens] }] : []),
    ...layout.groups.map(({ group, steps }, g) => ({
      prefix: `group.${g}`,
      what: `group ${g}`,
      count: steps,
      shape: [frames, group.height * group.width, layout.tokens],
    })),
  ];
}

/** A record's arrays part by part, in the order of `parts`. */
function recordParts(record: InversionRecord): Float32Array[][] {
  return [record.latents, ...(record.maskMaps ? [record.maskMaps.steps] : []), ...record.groups.map((g) => g.steps)];
}

/** Names and shapes of the payload's tensors, in storage order. */
export function tensorPlan(layout: Layout): { name: string; shape: number[] }[] {
  return parts(layout).flatMap(({ prefix, count, shape }) => Array.from({ length: count }, (_, i) => ({ name: `${prefix}.${i}`, shape })));
}

/** A record's arrays in tensorPlan's order. */
export function recordArrays(record: InversionRecord): Float32Array[] {
  return recordParts(record).flat();
}

/** The record of an entry: its layout and its arrays in tensorPlan's order. */
export function recordFromArrays(layout: Layout, arrays: Float32Array[]): InversionRecord {
  let next = 0;
  const [latents, ...rest] = parts(layout).map((p) => arrays.slice(next, (next += p.count)));
  const m = layout.maskMaps;
  const maskSteps = m ? rest.shift()! : [];
  return {
    key: layout.key,
    latents,
    latentShape: layout.latents.shape as LatentShape,
    tokens: layout.tokens,
    ...(m ? { maskMaps: { height: m.height, width: m.width, heads: m.heads, tokens: m.tokens, steps: maskSteps } } : {}),
    groups: layout.groups.map((g, i) => ({ group: g.group, steps: rest[i] })),
  };
}

/** Whether `shape` is a latent video's [C, frames, h, w]. */
function isLatentShape(shape: unknown, frames: number): shape is number[] {
  return Array.isArray(shape) && shape.length === 4 && shape.every(isPositiveInt) && shape[1] === frames;
}

/** The layout of a record, after checking that every array has the size its shape needs. */
export function layoutOf(record: InversionRecord, key: InversionKey): Layout {
  const fail = (problem: string): never => {
    throw new Error(`cannot cache inversion record: ${problem}`);
  };
  const frames = key.frameCount;
  if (record.latents.length === 0) fail("it has no latents");
  const shape = record.latentShape;
  if (!isLatentShape(shape, frames)) fail(`its latent shape is ${JSON.stringify(shape)}, expected [C, ${frames}, h, w]`);
  const tokens = record.tokens;
  if (!isPositiveInt(tokens)) fail(`tokens is ${tokens}`);
  let maskMaps: Layout["maskMaps"] = null;
  if (record.maskMaps) {
    const { height, width, heads, tokens: maskTokens, steps } = record.maskMaps;
    if (![height, width, heads, maskTokens].every(isPositiveInt))
      fail(`mask maps have size ${height}×${width}, ${heads} heads and ${maskTokens} tokens`);
    maskMaps = { height, width, heads, tokens: maskTokens, steps: steps.length };
  }
  const groups = record.groups.map(({ group, steps }, g) => ({ group: normalizeGroup(group, `group ${g}`), steps: steps.length }));
  const layout: Layout = { key, tokens, latents: { count: record.latents.length, shape: [...shape] }, maskMaps, groups };
  const arrays = recordParts(record);
  parts(layout).forEach(({ what, shape }, p) => {
    const expected = shape.reduce((x, y) => x * y, 1);
    arrays[p].forEach((a, i) => {
      if (!(a instanceof Float32Array)) fail(`${what} ${i} is not a Float32Array`);
      if (a.length !== expected) fail(`${what} ${i} has ${a.length} values, expected [${shape.join(", ")}] = ${expected}`);
    });
  });
  return layout;
}

/** The fields of a Meta that the payload's metadata repeats. */
export function layoutPart(meta: Meta): Layout {
  return { key: meta.key, tokens: meta.tokens, latents: meta.latents, maskMaps: meta.maskMaps, groups: meta.groups };
}

/** Read and validate meta.json; errors name the file. */
export function parseMeta(file: string): Meta {
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
  if (!isLatentShape(shape, key.frameCount)) fail(`latents.shape is ${JSON.stringify(shape)}, expected [C, ${key.frameCount}, h, w]`);
  let maskMaps: Layout["maskMaps"] = null;
  if (o.maskMaps !== null) {
    const m = asObject(o.maskMaps, "maskMaps");
    const [height, width, heads, maskTokens] = ["height", "width", "heads", "tokens"].map((f) => positiveInt(m[f], `maskMaps.${f}`));
    maskMaps = { height, width, heads, tokens: maskTokens, steps: nonNegativeInt(m.steps, "maskMaps.steps") };
  }
  if (!Array.isArray(o.groups)) fail("groups is not an array");
  const groups = (o.groups as unknown[]).map((g, i) => {
    const entry = asObject(g, `groups[${i}]`);
    return { group: normalizeGroup(entry.group, `groups[${i}].group`), steps: nonNegativeInt(entry.steps, `groups[${i}].steps`) };
  });
  const payload = asObject(o.payload, "payload");
  const sha256 = payload.sha256;
  if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256)) fail("payload.sha256 is not a sha256 hex digest");
  return {
    format: FORMAT,
    version: VERSION,
    created: o.created as string,
    key,
    tokens,
    latents: { count: positiveInt(lat.count, "latents.count"), shape: shape as number[] },
    maskMaps,
    groups,
    payload: { bytes: nonNegativeInt(payload.bytes, "payload.bytes"), sha256: sha256 as string },
  };
}

/** A validated copy of a key holding exactly the InversionKey fields, so stray properties never change an id. */
export function normalizeKey(raw: unknown, where: string): InversionKey {
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
    ...(o.frameChunk === undefined ? {} : { frameChunk: positiveInt(o.frameChunk, `${where}.frameChunk`) }),
    ...(o.inversionIterations === undefined
      ? {}
      : { inversionIterations: positiveInt(o.inversionIterations, `${where}.inversionIterations`) }),
    ...(o.unetPrecision === undefined ? {} : { unetPrecision: int8Precision(o.unetPrecision, `${where}.unetPrecision`) }),
  };
}

/** A stored key's non-default UNet precision (fp32 is never written: it is the absent field). */
function int8Precision(v: unknown, where: string): "int8" {
  if (v !== "int8") throw new Error(`${where} must be "int8" when present, got ${JSON.stringify(v)}`);
  return v;
}

function normalizeGroup(raw: unknown, where: string): MapGroup {
  const g = asObject(raw, where);
  if (g.place !== "down" && g.place !== "mid" && g.place !== "up") throw new Error(`${where}.place must be "down", "mid" or "up"`);
  return {
    place: g.place,
    level: nonNegativeInt(g.level, `${where}.level`),
    height: positiveInt(g.height, `${where}.height`),
    width: positiveInt(g.width, `${where}.width`),
    layers: positiveInt(g.layers, `${where}.layers`),
    heads: positiveInt(g.heads, `${where}.heads`),
  };
}

/** "field: stored X, requested Y" for each leaf of the key that differs. */
export function keyDifferences(stored: InversionKey, requested: InversionKey): string[] {
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
export function canonicalJson(value: unknown): string {
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

/** A plain file, not a link: entries never contain links, so one found there is not followed. */
export function isRegularFile(p: string): boolean {
  try {
    return fs.lstatSync(p).isFile();
  } catch {
    return false;
  }
}
