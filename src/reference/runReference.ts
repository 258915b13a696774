// `fatezero reference <fixture-dir>`: recompute every reference tensor and print one JSON line per
// tensor, then "N passed, N failed, N skipped" (skipped = inputs of the reference generator).
import { Fixture } from "./fixture";
import { FixtureModels } from "./fixtureModels";
import { planItem } from "./referenceItems";
import { compare, toleranceFor } from "./tolerances";

/** One line of the report. */
export interface ReferenceLine {
  name: string;
  maxAbsErr: number | null;
  relErr: number | null;
  tol: number | null;
  ok: boolean | null;
  reason?: string;
}

/** Run every item of the fixture at `dir`; `emit` receives each line as it is done. */
export async function runReference(
  dir: string,
  emit: (line: ReferenceLine) => void,
  options: { cacheDir?: string; only?: RegExp; weightsFile?: string } = {},
) {
  const fx = new Fixture(dir);
  const models = new FixtureModels(fx.modelDir, options.cacheDir, options.weightsFile);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const name of fx.names()) {
    if (options.only && !options.only.test(name)) continue;
    const plan = planItem(name, fx, models);
    let line: ReferenceLine;
    if (plan.kind === "input") {
      line = { name, maxAbsErr: null, relErr: null, tol: null, ok: null, reason: `input: ${plan.reason}` };
    } else if (plan.kind === "missing") {
      line = { name, maxAbsErr: null, relErr: null, tol: null, ok: false, reason: plan.reason };
    } else {
      try {
        const c = compare(await plan.run(), fx.read(name), toleranceFor(name));
        line = { name, ...c, ...(c.maxAbsErr === Infinity ? { reason: "shape mismatch" } : {}) };
      } catch (e) {
        line = { name, maxAbsErr: null, relErr: null, tol: null, ok: false, reason: `error: ${(e as Error).message}` };
      }
    }
    if (line.ok === null) counts.skipped++;
    else if (line.ok) counts.passed++;
    else counts.failed++;
    emit(line);
  }
  return counts;
}
