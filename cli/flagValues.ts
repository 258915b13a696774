// The values of command-line flags: integers within bounds and finite numbers. A refusal names the flag and
// the text given, as a UsageError (exit 2).
import { InputError } from "../src/util/inputError";

/** An error in the command line itself (exit code 2). */
export class UsageError extends InputError {}

/** An integer flag within [min, max]; undefined when the flag is absent. */
export function integerFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name}: expected an integer in ${min}…${max}, got "${value}"`);
  return n;
}

/** A finite number flag, within [min, max] when bounds are given. */
export function numberFlag(name: string, value: string, min = -Infinity, max = Infinity): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name}: expected a number, got "${value}"`);
  if (n < min || n > max) throw new UsageError(`--${name}: expected a number in ${min}…${max}, got "${value}"`);
  return n;
}
