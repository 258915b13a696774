// The project's own sample clip: a red car driving away along a curving road, under a gradient sky with a sun
// and drifting clouds, between green hills with a few trees. It stands in for third-party footage (which the
// project may not ship) as the default input of the CLI and notebooks, and it is the world's seed of truth:
// the world's renderer with the sample layout and attributes (src/world/).
import { worldCaption } from "./captions";
import { SAMPLE_LAYOUT } from "./layout";
import { renderWorldClip } from "./worldClip";
import { SAMPLE_ATTRIBUTES } from "./vocabulary";
import type { VideoClip } from "../video/readVideo";

/** The `source` name of the generated clip. */
export const SAMPLE_CLIP_SOURCE = "sample:car-road";
/** The prompt describing the sample clip (and every default world clip): its canonical caption. */
export const SAMPLE_CLIP_PROMPT = worldCaption(SAMPLE_ATTRIBUTES);

/** The project's deterministic synthetic sample clip: a car driving along a curved road (F frames of size²). */
export function makeSampleClip(frames = 8, size = 512): VideoClip {
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`makeSampleClip: frames must be a positive integer, got ${frames}`);
  if (!Number.isInteger(size) || size < 16) throw new Error(`makeSampleClip: size must be an integer ≥ 16, got ${size}`);
  const { clip } = renderWorldClip(0, SAMPLE_ATTRIBUTES, { frames, size, layout: SAMPLE_LAYOUT });
  return { ...clip, source: SAMPLE_CLIP_SOURCE };
}
