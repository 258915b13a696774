// Long clips go through the video UNet in windows of frames, so that its working memory is that of a window
// however long the clip. A window holds a chunk of consecutive frames plus the key frames their sparse-causal
// self-attention reads (the previous frame, the first, the middle of the clip, …), so those frames' queries
// see the same keys as in the whole clip. Two things are approximate, and only for clips longer than a
// chunk: the inflated UNet's GroupNorm statistics span the window instead of the clip, and a key frame
// brought into a window as context reads, at deeper layers, its own key frames only where the window has
// them (itself otherwise); its outputs are dropped. Clips of at most a chunk are one window: exact.
import { selectFrame, type FrameSelector } from "../networks/frameLayout";

/** Clips up to this many frames (FateZero's default clip length) run whole, exactly as FateZero does. */
export const WHOLE_CLIP_FRAMES = 8;
/** Latent positions (frames · h · w) of a chunk of a longer clip: 4 frames at 512² (64² latents), 8 at 256². */
const CHUNK_POSITIONS = 4 * 64 * 64;

/** One UNet evaluation of a long clip. */
export interface FrameWindow {
  /** Clip frames it evaluates, ascending: its own and the key frames they read. */
  frames: number[];
  /** Its own frames, clip frames [from, to): the ones whose outputs it gives. */
  from: number;
  to: number;
}

/** Frames per chunk for a clip of `frames` at latent size [h, w]: the whole clip up to WHOLE_CLIP_FRAMES, else by size. */
export function defaultFrameChunk(frames: number, latentSize: [number, number]): number {
  if (frames <= WHOLE_CLIP_FRAMES) return frames;
  return Math.min(WHOLE_CLIP_FRAMES, Math.max(1, Math.floor(CHUNK_POSITIONS / (latentSize[0] * latentSize[1]))));
}

/** Throw unless `chunk` is a usable frame chunk (a positive integer). */
export function checkFrameChunk(chunk: number): number {
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`frame chunk must be a positive integer, got ${chunk}`);
  return chunk;
}

/** The windows covering a clip of `total` frames in chunks of `chunk`, each with the key frames `selectors` pick. */
export function frameWindows(total: number, selectors: readonly FrameSelector[], chunk: number): FrameWindow[] {
  checkFrameChunk(chunk);
  const windows: FrameWindow[] = [];
  for (let from = 0; from < total; from += chunk) {
    const to = Math.min(total, from + chunk);
    const frames = new Set<number>();
    for (let i = from; i < to; i++) {
      frames.add(i);
      for (const s of selectors) frames.add(selectFrame(s, i, total));
    }
    windows.push({ frames: [...frames].sort((a, b) => a - b), from, to });
  }
  return windows;
}

/** The largest window's frame count: what a chunked run's memory grows with. */
export function windowFrames(total: number, selectors: readonly FrameSelector[], chunk: number): number {
  return Math.max(...frameWindows(total, selectors, chunk).map((w) => w.frames.length));
}

/** x [outer, F, inner] → [outer, W, inner] with the window's frames. */
export function takeFrames(x: Float32Array, outer: number, total: number, frames: readonly number[]): Float32Array {
  const inner = x.length / (outer * total);
  const out = new Float32Array(outer * frames.length * inner); // [outer, W, inner]
  for (let o = 0; o < outer; o++)
    frames.forEach((f, j) => out.set(x.subarray((o * total + f) * inner, (o * total + f + 1) * inner), (o * frames.length + j) * inner));
  return out;
}

/** Write a window's own frames of y [outer, W, inner] into x [outer, F, inner]. */
export function putOwnFrames(x: Float32Array, y: Float32Array, outer: number, total: number, w: FrameWindow): void {
  const W = w.frames.length;
  const inner = y.length / (outer * W);
  for (let o = 0; o < outer; o++)
    w.frames.forEach((f, j) => {
      if (f >= w.from && f < w.to) x.set(y.subarray((o * W + j) * inner, (o * W + j + 1) * inner), (o * total + f) * inner);
    });
}
