// The drawing styles, applied to a plain rendering. Both are screen-fixed (paper grain and hatching do not
// move with the scene), so a styled clip flickers no more than the plain one.
//   watercolor: softened colours bleeding a pixel, thinned pigment, darker rims where regions meet, paper grain;
//   sketch: graphite on paper, outlines where regions or brightness change, hatching in the darker areas.
import type { Style } from "./vocabulary";

/** Pixels [F, H, W, 3] and their region labels [F, H, W]. */
export interface StyleInput {
  frames: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** A smooth noise value in [−1, 1] at pixel (x, y) for grid `period` (bilinear value noise, fixed seed). */
function valueNoise(x: number, y: number, period: number): number {
  const gx = x / period;
  const gy = y / period;
  const x0 = Math.floor(gx);
  const y0 = Math.floor(gy);
  const fx = gx - x0;
  const fy = gy - y0;
  const h = (i: number, j: number) => {
    let k = Math.imul(i, 73856093) ^ Math.imul(j, 19349663) ^ Math.imul(period, 83492791);
    k = Math.imul(k ^ (k >>> 13), 1274126177);
    return (((k ^ (k >>> 16)) >>> 0) / 4294967296) * 2 - 1;
  };
  const top = h(x0, y0) + (h(x0 + 1, y0) - h(x0, y0)) * fx;
  const bottom = h(x0, y0 + 1) + (h(x0 + 1, y0 + 1) - h(x0, y0 + 1)) * fx;
  return top + (bottom - top) * fy;
}

/** Whether pixel (x, y) of a frame's labels borders another region (4-neighbourhood). */
function isRegionEdge(labels: Uint8Array, base: number, x: number, y: number, H: number, W: number): boolean {
  const l = labels[base + y * W + x];
  return (
    (x > 0 && labels[base + y * W + x - 1] !== l) ||
    (x < W - 1 && labels[base + y * W + x + 1] !== l) ||
    (y > 0 && labels[base + (y - 1) * W + x] !== l) ||
    (y < H - 1 && labels[base + (y + 1) * W + x] !== l)
  );
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function watercolor(s: StyleInput): Uint8Array {
  const { frames, labels, count: F, height: H, width: W } = s;
  const out = new Uint8Array(frames.length); // [F, H, W, 3]
  const scale = Math.max(1, W / 128); // noise periods grow with the frame so the look does not depend on size
  for (let f = 0; f < F; f++) {
    const base = f * H * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const pigment = 0.8 + 0.12 * valueNoise(x, y, Math.round(24 * scale));
        const grain = 1 - 0.05 * (valueNoise(x, y, Math.round(3 * scale)) + 1) * 0.5;
        const rim = isRegionEdge(labels, base, x, y, H, W) ? 0.84 : 1;
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          let n = 0;
          for (let dy = -1; dy <= 1; dy++) {
            for (let dx = -1; dx <= 1; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              sum += frames[(base + yy * W + xx) * 3 + c];
              n++;
            }
          }
          const soft = sum / n;
          out[(base + y * W + x) * 3 + c] = clampByte((255 - (255 - soft) * pigment) * rim * grain);
        }
      }
    }
  }
  return out;
}

const PAPER = [246, 243, 234];
const GRAPHITE = [58, 58, 64];

function sketch(s: StyleInput): Uint8Array {
  const { frames, labels, count: F, height: H, width: W } = s;
  const out = new Uint8Array(frames.length); // [F, H, W, 3]
  const period = Math.max(4, Math.round(W / 26));
  const luma = (i: number) => (0.299 * frames[i * 3] + 0.587 * frames[i * 3 + 1] + 0.114 * frames[i * 3 + 2]) / 255;
  for (let f = 0; f < F; f++) {
    const base = f * H * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = base + y * W + x;
        const l = luma(i);
        const gx = x < W - 1 ? luma(i + 1) - l : 0;
        const gy = y < H - 1 ? luma(i + W) - l : 0;
        let dark = Math.min(0.7, 3 * Math.hypot(gx, gy));
        if (isRegionEdge(labels, base, x, y, H, W)) dark = Math.max(dark, 0.75);
        if (l < 0.62 && (x + y) % period === 0) dark = Math.max(dark, 0.5);
        if (l < 0.36 && (x - y + H * period) % period === 0) dark = Math.max(dark, 0.55);
        dark = Math.max(dark, (1 - l) * 0.22);
        for (let c = 0; c < 3; c++) out[i * 3 + c] = clampByte(PAPER[c] + (GRAPHITE[c] - PAPER[c]) * dark);
      }
    }
  }
  return out;
}

/** Frames drawn in `style` (plain returns the input itself). */
export function applyStyle(style: Style, input: StyleInput): Uint8Array {
  if (style === "watercolor") return watercolor(input);
  if (style === "sketch") return sketch(input);
  return input.frames;
}
