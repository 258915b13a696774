// One world clip: frames in a style, its captions and per-frame ground-truth masks, from a seed (the layout
// and motion) and attributes (what the caption names). The same seed with other attributes is the same
// scene re-rendered: the ground-truth target of an edit.
import { InputError } from "../util/inputError";
import type { VideoClip } from "../video/readVideo";
import { worldCaption, CAPTION_VARIANTS } from "./captions";
import { worldLayout, type WorldLayout } from "./layout";
import { drawScene, SUPERSAMPLING } from "./renderScene";
import { applyStyle } from "./styles";
import { checkAttributes, MASK_NAMES, type MaskName, type WorldAttributes } from "./vocabulary";

/** Frames per world clip unless asked otherwise, and their size (the world model's training size). */
export const WORLD_FRAMES = 8;
export const WORLD_SIZE = 128;
/** Frames per second of a world clip. */
export const WORLD_FPS = 10;

/** How a video option names a world clip: `world:<seed>` (the sample attributes: a red car in the countryside). */
export const WORLD_VIDEO_PREFIX = "world:";
/** The world clip the CLI and the notebooks edit unless given another video (a held-out seed). */
export const DEFAULT_WORLD_VIDEO = `${WORLD_VIDEO_PREFIX}13`;

/** The seed of a `world:<seed>` video option, or undefined for any other video. */
export function worldVideoSeed(video: string): number | undefined {
  if (!video.startsWith(WORLD_VIDEO_PREFIX)) return undefined;
  const text = video.slice(WORLD_VIDEO_PREFIX.length);
  const seed = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(seed))
    throw new InputError(`video ${video}: a world clip is world:<seed> with a non-negative integer seed`);
  return seed;
}

/** A rendered world clip with everything known about it. */
export interface WorldClip {
  seed: number;
  attributes: WorldAttributes;
  clip: VideoClip;
  /** Caption variants; [0] is the canonical one. */
  captions: string[];
  /** Per named thing, a mask [F, H, W] of 0/1: pixels at least half covered by it. */
  masks: Record<MaskName, Uint8Array>;
}

/** What to render. */
export interface WorldClipOptions {
  frames?: number;
  size?: number;
  /** Use this layout instead of the seed's (the sample clip). */
  layout?: WorldLayout;
}

/**
 * Rendering's memory: the peak bytes of rendering and writing a clip (Node and sharp, 0.12 GB measured, plus 17
 * bytes a pixel: frames, styled frames, label votes, labels and masks; measured 13.2 for 24 frames at 512²), and
 * its largest single array (the votes, [F, H, W, labels]), which must fit one typed array.
 */
export function worldClipMemory(frames: number, size: number): { peakBytes: number; largestArray: number } {
  const pixels = frames * size * size;
  const labels = MASK_NAMES.length;
  return { peakBytes: 0.12 * 2 ** 30 + pixels * (3 + 3 + labels + 1 + labels), largestArray: pixels * labels };
}

/** Render world seed `seed` with `attributes`. */
export function renderWorldClip(seed: number, attributes: WorldAttributes, options: WorldClipOptions = {}): WorldClip {
  const frames = options.frames ?? WORLD_FRAMES;
  const size = options.size ?? WORLD_SIZE;
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`world clip: frames must be a positive integer, got ${frames}`);
  if (!Number.isInteger(size) || size < 16) throw new RangeError(`world clip: size must be an integer ≥ 16, got ${size}`);
  checkAttributes(attributes);
  const layout = options.layout ?? worldLayout(seed);
  const { frames: plain, votes } = drawScene(
    { layout, kind: attributes.kind, colour: attributes.colour, setting: attributes.setting },
    frames,
    size,
  );
  const pixels = frames * size * size;
  const L = MASK_NAMES.length;
  const labels = new Uint8Array(pixels); // [F, H, W] majority label
  // Each [F, H, W].
  const masks = Object.fromEntries(MASK_NAMES.map((name) => [name, new Uint8Array(pixels)])) as Record<MaskName, Uint8Array>;
  const half = (SUPERSAMPLING * SUPERSAMPLING) / 2;
  for (let p = 0; p < pixels; p++) {
    let best = 0;
    for (let l = 0; l < L; l++) {
      const v = votes[p * L + l];
      if (v > votes[p * L + best]) best = l;
      if (v >= half) masks[MASK_NAMES[l]][p] = 1;
    }
    labels[p] = best;
  }
  const styled = applyStyle(attributes.style, { frames: plain, labels, count: frames, height: size, width: size });
  const captions = Array.from({ length: CAPTION_VARIANTS }, (_, v) => worldCaption(attributes, v));
  const clip: VideoClip = { frames: styled, count: frames, height: size, width: size, source: `world:${seed}`, fps: WORLD_FPS };
  return { seed, attributes, clip, captions, masks };
}
