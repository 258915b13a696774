// Attention maps and masks as pictures: values [F, h·w] coloured with a perceptual colour ramp, scaled up
// (nearest, so the map's own resolution stays visible) to the frame size, optionally laid over the frames.
import type { VideoClip } from "../../src/video/readVideo";

/** Options of a heatmap clip. */
export interface HeatmapOptions {
  /** Value drawn at the top of the ramp (default: the maximum over all frames, so frames compare). */
  max?: number;
  /** Frames to draw the heat over, at `opacity` (default 0.65); their size sets the output size. */
  over?: VideoClip;
  opacity?: number;
  /** Output size when there is no `over` clip (default 8× the map). */
  height?: number;
  width?: number;
}

// A magma-like ramp: black → purple → orange → pale yellow.
const RAMP: [number, number, number][] = [
  [0, 0, 4],
  [80, 18, 123],
  [182, 54, 121],
  [251, 136, 97],
  [252, 253, 191],
];

function ramp(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const t = x - i;
  return [0, 1, 2].map((c) => RAMP[i][c] + (RAMP[i + 1][c] - RAMP[i][c]) * t) as [number, number, number];
}

/** Colour maps [F, h·w] as a clip (u8 [F, H, W, 3]). */
export function heatmapClip(maps: Float32Array, frames: number, h: number, w: number, options: HeatmapOptions = {}): VideoClip {
  if (maps.length !== frames * h * w) throw new Error(`heatmap: ${maps.length} values is not [${frames}, ${h}·${w}]`);
  const over = options.over;
  if (over && over.count !== frames) throw new Error(`heatmap: ${frames} maps but the clip has ${over.count} frames`);
  const H = over?.height ?? options.height ?? 8 * h;
  const W = over?.width ?? options.width ?? 8 * w;
  let max = options.max ?? 0;
  if (options.max === undefined) for (const v of maps) max = Math.max(max, v);
  const opacity = over ? (options.opacity ?? 0.65) : 1;
  const out = new Uint8Array(frames * H * W * 3); // [F, H, W, 3]
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < H; y++) {
      const sy = Math.min(h - 1, Math.floor((y * h) / H));
      for (let x = 0; x < W; x++) {
        const sx = Math.min(w - 1, Math.floor((x * w) / W));
        const colour = ramp(max > 0 ? maps[(f * h + sy) * w + sx] / max : 0);
        const o = ((f * H + y) * W + x) * 3;
        for (let c = 0; c < 3; c++) out[o + c] = Math.round(opacity * colour[c] + (1 - opacity) * (over ? over.frames[o + c] : 0));
      }
    }
  }
  return { frames: out, count: frames, height: H, width: W, source: "heatmap", fps: over?.fps ?? 10 };
}
