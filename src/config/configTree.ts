// A parsed config with OmegaConf-style interpolations, resolved lazily and read through typed
// accessors. Lazy like OmegaConf, because FateZero's official configs carry references that resolve to
// nothing (`test_pipeline_config.num_inference_steps: ${..validation_sample_logger.num_inference_steps}`)
// and still run: only the keys that are read must resolve. Every error names the file, the line and
// the key path.
import { z } from "zod";
import { ConfigError, parseYaml, type YamlSource } from "./yamlDocument";

/** Keys from the top of the document to a value (list indices as decimal strings). */
export type KeyPath = readonly string[];

/** A value type the readers accept, with its name for error messages. */
export interface Kind<T> {
  what: string;
  test(v: unknown): v is T;
}

/** Any string. */
export const STRING: Kind<string> = { what: "a string", test: (v): v is string => typeof v === "string" };
/** true or false. */
export const BOOLEAN: Kind<boolean> = { what: "true or false", test: (v): v is boolean => typeof v === "boolean" };
/** A finite number. */
export const NUMBER: Kind<number> = { what: "a number", test: (v): v is number => typeof v === "number" && Number.isFinite(v) };

/** A kind checked by a zod schema, which the widgets reuse to check the same value from a frontend. */
export interface SchemaKind<T> extends Kind<T> {
  readonly schema: z.ZodType<T>;
}

/** A zod schema as a kind, named `what` in messages (zod's own messages are for the widgets' logs). */
export function zodKind<T>(schema: z.ZodType<T>, what: string): SchemaKind<T> {
  return { what, schema, test: (v): v is T => schema.safeParse(v).success };
}

/** A number in [min, max]. */
export function numberBetween(min: number, max: number): SchemaKind<number> {
  return zodKind(z.number().min(min).max(max), `a number in ${min}…${max}`);
}

/** A string of at most `max` characters. */
export function textUpTo(max: number): SchemaKind<string> {
  return zodKind(z.string().max(max), `a string of at most ${max} characters`);
}

/** An integer no smaller than `min`. */
export function intAtLeast(min: number): Kind<number> {
  return {
    what: min === 0 ? "a non-negative integer" : `an integer ≥ ${min}`,
    test: (v): v is number => Number.isSafeInteger(v) && (v as number) >= min,
  };
}

/** One of the given strings. */
export function oneOfKind<T extends string>(allowed: readonly T[]): SchemaKind<T> {
  return zodKind(z.enum(allowed) as z.ZodType<T>, `one of ${allowed.join(", ")}`);
}

/** An integer in [min, max]. */
export function intBetween(min: number, max: number): Kind<number> {
  return {
    what: `an integer in ${min}…${max}`,
    test: (v): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max,
  };
}

/** Longest string an interpolation may build. */
const MAX_INTERPOLATED_LENGTH = 100_000;

/** A value together with where it really lives (interpolations lead elsewhere in the document). */
interface Located {
  value: unknown;
  at: string[];
}

type Part = { text: string } | { ref: string };

/** Interpolation steps one document may take; FateZero's configs take a handful. */
const MAX_INTERPOLATION_STEPS = 10_000;

/** A config document whose values are read by key path. */
export class ConfigTree {
  /** Interpolated values by node (`a.b.c`): each node is resolved once, however often it is referred to. */
  private readonly resolved = new Map<string, Located>();
  private steps = 0;

  private constructor(private readonly src: YamlSource) {}

  /** Parse YAML text (see `parseYaml` for the safety rules). */
  static parse(text: string, sourceName: string): ConfigTree {
    return new ConfigTree(parseYaml(text, sourceName));
  }

  /** The file name errors are reported under. */
  get sourceName(): string {
    return this.src.sourceName;
  }

  /** Throw a ConfigError about `path`. */
  fail(path: KeyPath, message: string): never {
    throw new ConfigError(`${this.where(path)}: ${message}`);
  }

  /** `file:line: key.path` of a key, for messages. */
  where(path: KeyPath): string {
    const line = this.src.lineOf(path);
    return `${this.src.sourceName}${line === undefined ? "" : `:${line}`}: ${path.length ? path.join(".") : "(top level)"}`;
  }

  /** The value at `path`, interpolations resolved; undefined when a key on the way is missing. */
  get(path: KeyPath): unknown {
    return this.walk(path, [])?.value;
  }

  /** True when the key is missing or null (`key:` with nothing after it). */
  isAbsent(path: KeyPath): boolean {
    const v = this.get(path);
    return v === undefined || v === null;
  }

  /** A required value of the given kind. */
  read<T>(path: KeyPath, kind: Kind<T>): T {
    const v = this.get(path);
    if (v === undefined || v === null) this.fail(path, `is required (${kind.what})`);
    if (!kind.test(v)) this.fail(path, `expected ${kind.what}, got ${show(v)}`);
    return v;
  }

  /** An optional value of the given kind; undefined when missing or null. */
  optional<T>(path: KeyPath, kind: Kind<T>): T | undefined {
    return this.isAbsent(path) ? undefined : this.read(path, kind);
  }

  /** The keys of a mapping ([] when missing or null). */
  keys(path: KeyPath): string[] {
    const v = this.get(path);
    if (v === undefined || v === null) return [];
    if (typeof v !== "object" || Array.isArray(v)) this.fail(path, `expected a mapping, got ${show(v)}`);
    return Object.keys(v as object);
  }

  /** The key paths of a list's items. */
  items(path: KeyPath): KeyPath[] {
    const v = this.get(path);
    if (v === undefined || v === null) this.fail(path, "is required (a list)");
    if (!Array.isArray(v)) this.fail(path, `expected a list, got ${show(v)}`);
    return v.map((_, i) => [...path, String(i)]);
  }

  private raw(at: readonly string[]): unknown {
    let v: unknown = this.src.root;
    for (const k of at) v = (v as Record<string, unknown>)[k];
    return v;
  }

  private walk(path: KeyPath, stack: readonly string[]): Located | undefined {
    let cur: Located = { value: this.src.root, at: [] };
    for (let i = 0; i < path.length; i++) {
      const c = cur.value;
      const key = path[i];
      const present = Array.isArray(c)
        ? /^\d+$/.test(key) && Number(key) < c.length
        : typeof c === "object" && c !== null && Object.hasOwn(c, key);
      if (!present) return undefined;
      cur = this.resolveAt([...cur.at, key], path.slice(0, i + 1), stack);
    }
    return cur;
  }

  private resolveAt(at: string[], shown: KeyPath, stack: readonly string[]): Located {
    const value = this.raw(at);
    if (value === "???") this.fail(shown, "is ??? (a mandatory value that was never filled in)");
    if (typeof value !== "string" || !value.includes("${")) return { value, at };
    const id = at.join(".");
    if (stack.includes(id)) this.fail(shown, `interpolation cycle: ${[...stack, id].join(" → ")}`);
    const known = this.resolved.get(id);
    if (known) return known;
    if (++this.steps > MAX_INTERPOLATION_STEPS) this.fail(shown, `takes more than ${MAX_INTERPOLATION_STEPS} interpolation steps`);
    const result = this.interpolate(value, at, shown, [...stack, id]);
    this.resolved.set(id, result);
    return result;
  }

  private interpolate(value: string, at: string[], shown: KeyPath, inner: readonly string[]): Located {
    const parts = this.splitInterpolations(value, shown);
    // A value that is exactly one reference takes the referenced value's type (int, list, mapping).
    if (parts.length === 1 && "ref" in parts[0]) return this.follow(parts[0].ref, at, shown, inner);
    const text = parts.map((p) => {
      if (!("ref" in p)) return p.text;
      const v = this.follow(p.ref, at, shown, inner).value;
      if (v !== null && typeof v === "object")
        this.fail(shown, `\${${p.ref}} is a ${Array.isArray(v) ? "list" : "mapping"} and cannot be part of a string`);
      return v === null ? "None" : String(v);
    });
    const joined = text.join("");
    // Strings built from strings built from strings double in length per level: bound them.
    if (joined.length > MAX_INTERPOLATED_LENGTH) this.fail(shown, `interpolates to more than ${MAX_INTERPOLATED_LENGTH} characters`);
    return { value: joined, at };
  }

  private follow(ref: string, at: readonly string[], shown: KeyPath, stack: readonly string[]): Located {
    const dots = /^\.*/.exec(ref)![0].length;
    // OmegaConf: `.x` is a sibling of the node, each further dot climbs one level from its parent.
    const up = at.length - dots;
    if (dots > 0 && up < 0) this.fail(shown, `\${${ref}} climbs above the top of the document`);
    const base = dots > 0 ? at.slice(0, up) : [];
    const rest = ref.slice(dots).replace(/\[(\d+)\]/g, ".$1");
    const segments = rest === "" ? [] : rest.split(".");
    if (segments.some((s) => s === "")) this.fail(shown, `\${${ref}} is not a valid key path`);
    const target = [...base, ...segments];
    const found = this.walk(target, stack);
    if (!found) this.fail(shown, `cannot resolve \${${ref}}: ${target.join(".") || "(top level)"} does not exist`);
    return found;
  }

  private splitInterpolations(s: string, shown: KeyPath): Part[] {
    const parts: Part[] = [];
    let text = "";
    let i = 0;
    while (i < s.length) {
      if (s.startsWith("\\${", i)) {
        text += "${";
        i += 3;
      } else if (s.startsWith("${", i)) {
        const end = s.indexOf("}", i + 2);
        if (end < 0) this.fail(shown, `unterminated interpolation in ${show(s)}`);
        const body = s.slice(i + 2, end).trim();
        if (body.includes("${")) this.fail(shown, `nested interpolations are not supported: ${show(s)}`);
        if (body.includes(":")) this.fail(shown, `resolvers (\${name:args}) are not supported: ${show(s)}`);
        if (body === "") this.fail(shown, `empty interpolation in ${show(s)}`);
        if (text) parts.push({ text });
        text = "";
        parts.push({ ref: body });
        i = end + 1;
      } else text += s[i++];
    }
    if (text) parts.push({ text });
    return parts;
  }
}

/** A short rendering of a value for error messages. */
export function show(v: unknown): string {
  const s = v === undefined ? "nothing" : JSON.stringify(v);
  const limit = 80;
  return s.length > limit ? `${s.slice(0, limit - 3)}...` : s;
}
