// Running the real CLI (bin/fatezero.js) in a child process, and what a refusal must look like.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

/** The CLI's entry point. */
export const BIN = path.resolve("bin/fatezero.js");

/** What a CLI run gave back. */
export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** Run `fatezero args` with exactly this environment. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeout = 120_000): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env, timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A refusal: exit 2, the message, and no stack trace. */
export function assertRefused(r: CliResult, message: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.err}`);
  assert.match(r.err, message, what);
  assert.doesNotMatch(r.err, /\n\s+at /, `${what}: a stack trace reached the user`);
}
