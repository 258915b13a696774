// Which denoising steps a replacement window covers. FateZero uses two different denominators for the two
// windows: the cross-attention schedule is a table of N+1 rows filled up to int(bound·(N+1)), the
// self-attention window is [int(N·start), int(N·end)). Edit step i reads row i, so row N is never used.
import type { CrossReplaceSteps } from "../fatezero/editOptions";

/** Edit step indices [start, end) (empty when end ≤ start), of `steps` denoising steps. */
export interface StepRange {
  start: number;
  end: number;
}

/** A window as [start, end] fractions (a lone number is the end). */
function bounds(window: number | [number, number]): [number, number] {
  return typeof window === "number" ? [0, window] : window;
}

function clamp(start: number, end: number, steps: number): StepRange {
  const s = Math.min(Math.max(start, 0), steps);
  return { start: s, end: Math.max(Math.min(end, steps), s) };
}

/** Steps whose cross-attention is replaced: FateZero's `update_alpha_time_word` rows int(bound·(N+1)). */
export function crossStepRange(window: number | [number, number], steps: number): StepRange {
  const [a, b] = bounds(window);
  return clamp(Math.trunc(a * (steps + 1)), Math.trunc(b * (steps + 1)), steps);
}

/** Steps whose self-attention is replaced or blended: FateZero's `num_self_replace` = int(N·bound). */
export function selfStepRange(window: number | [number, number], steps: number): StepRange {
  const [a, b] = bounds(window);
  return clamp(Math.trunc(a * steps), Math.trunc(b * steps), steps);
}

/** The default cross window and the per-word ones of a `cross_replace_steps` value. */
export function crossStepRanges(cross: CrossReplaceSteps, steps: number): { all: StepRange; words: { word: string; steps: StepRange }[] } {
  if (typeof cross === "number" || Array.isArray(cross)) return { all: crossStepRange(cross, steps), words: [] };
  const words = Object.entries(cross)
    .filter(([word]) => word !== "default_")
    .map(([word, window]) => ({ word, steps: crossStepRange(window, steps) }));
  // FateZero fills a missing default_ with the whole schedule.
  return { all: crossStepRange(cross.default_ ?? [0, 1], steps), words };
}

/** "0–24" style text for a range, or "none". */
export function formatStepRange(r: StepRange): string {
  return r.end <= r.start ? "none" : r.end - r.start === 1 ? `${r.start}` : `${r.start}–${r.end - 1}`;
}
