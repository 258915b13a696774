// Which denoising steps a replacement window covers. FateZero uses two different denominators for the two
// windows: the cross-attention schedule is a table of N+1 rows filled up to int(bound·(N+1)), the
// self-attention window is [int(N·start), int(N·end)). Edit step i reads row i, so row N is never used.
// The controller's tensors and the dry-run plan both read the windows here.
import type { CrossReplaceSteps } from "./editOptions";

/** Edit step indices [start, end) (empty when end ≤ start), of `steps` denoising steps. */
export interface StepRange {
  start: number;
  end: number;
}

/** A window as fractions of the steps: an end fraction (from 0), or [start, end]. */
export type StepWindow = number | [number, number];

/** The whole schedule: FateZero's cross window where `default_` is missing. */
export const WHOLE_SCHEDULE: [number, number] = [0, 1];

/** [start, end] of a window (a lone number is the end); throws naming `what` unless 0 ≤ start ≤ end ≤ 1. */
export function windowBounds(window: StepWindow, what: string): [number, number] {
  const pair = typeof window === "number" ? [0, window] : window;
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((b) => typeof b === "number" && Number.isFinite(b))) {
    throw new Error(`${what} must be a fraction or a [start, end] pair of fractions, got ${JSON.stringify(window)}`);
  }
  const [start, end] = pair;
  if (start < 0 || end > 1 || start > end) {
    throw new Error(`${what} must satisfy 0 <= start <= end <= 1, got ${JSON.stringify(window)}`);
  }
  return [start, end];
}

/** [start, end] of a window without checks (a lone number is the end), for windows a reader already checked. */
function bounds(window: StepWindow): [number, number] {
  return typeof window === "number" ? [0, window] : window;
}

function clamp(start: number, end: number, limit: number): StepRange {
  const s = Math.min(Math.max(start, 0), limit);
  return { start: s, end: Math.max(Math.min(end, limit), s) };
}

/** Rows of the (N+1)-row cross schedule a window fills: FateZero's `update_alpha_time_word`, int(bound·(N+1)). */
export function crossRowRange(window: StepWindow, steps: number): StepRange {
  const [a, b] = bounds(window);
  return clamp(Math.trunc(a * (steps + 1)), Math.trunc(b * (steps + 1)), steps + 1);
}

/** Steps whose cross-attention is replaced: the schedule's rows that an edit step reads (row N never is). */
export function crossStepRange(window: StepWindow, steps: number): StepRange {
  const rows = crossRowRange(window, steps);
  return clamp(rows.start, rows.end, steps);
}

/** Steps whose self-attention is replaced or blended: FateZero's `num_self_replace` = int(N·bound). */
export function selfStepRange(window: StepWindow, steps: number): StepRange {
  const [a, b] = bounds(window);
  return clamp(Math.trunc(a * steps), Math.trunc(b * steps), steps);
}

/** The default window and the per-word ones of a `cross_replace_steps` value (a missing `default_` is the whole schedule). */
export function crossWindows(cross: CrossReplaceSteps): { all: StepWindow; words: { word: string; window: StepWindow }[] } {
  if (typeof cross === "number" || Array.isArray(cross)) return { all: cross, words: [] };
  const words = Object.entries(cross)
    .filter(([word]) => word !== "default_")
    .map(([word, window]) => ({ word, window }));
  return { all: cross.default_ ?? WHOLE_SCHEDULE, words };
}

/** The default cross step range and the per-word ones of a `cross_replace_steps` value. */
export function crossStepRanges(cross: CrossReplaceSteps, steps: number): { all: StepRange; words: { word: string; steps: StepRange }[] } {
  const { all, words } = crossWindows(cross);
  return { all: crossStepRange(all, steps), words: words.map(({ word, window }) => ({ word, steps: crossStepRange(window, steps) })) };
}
