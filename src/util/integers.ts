// The integer checks of values read from files and options, with one message form that names the value.

/** `v` when it is a safe integer ≥ 1; else throws "<name> must be a positive integer, got <v>". */
export function positiveInt(v: unknown, name: string): number {
  if (!isPositiveInt(v)) throw new Error(`${name} must be a positive integer, got ${show(v)}`);
  return v;
}

/** `v` when it is a safe integer ≥ 0; else throws "<name> must be a non-negative integer, got <v>". */
export function nonNegativeInt(v: unknown, name: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Error(`${name} must be a non-negative integer, got ${show(v)}`);
  return v as number;
}

/** Whether `v` is a safe integer ≥ 1. */
export function isPositiveInt(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 1;
}

// Numbers as JavaScript prints them (NaN, Infinity), anything else as JSON (strings quoted).
function show(v: unknown): string {
  return typeof v === "number" ? String(v) : JSON.stringify(v);
}
