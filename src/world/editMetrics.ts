// Edit quality against the world's ground truth: PSNR (whole frames or inside a pixel mask), mask IoU,
// which vehicle colour an edit painted, and flicker. Frames are u8 [F, H, W, 3]; masks u8 0/1 [F, H, W].
import { COLOUR_NAMES, VEHICLE_COLOURS, type VehicleColour } from "./vocabulary";

/** PSNR in dB over the pixels where `mask` is 1 (all pixels without a mask); Infinity when identical. */
export function psnr(a: Uint8Array, b: Uint8Array, mask?: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} values`);
  let sum = 0;
  let n = 0;
  for (let p = 0; p < a.length / 3; p++) {
    if (mask && !mask[p]) continue;
    for (let c = 0; c < 3; c++) sum += (a[p * 3 + c] - b[p * 3 + c]) ** 2;
    n += 3;
  }
  if (n === 0) throw new Error("psnr: the mask selects no pixel");
  return sum === 0 ? Infinity : 10 * Math.log10((255 * 255 * n) / sum);
}

/** Intersection over union of two 0/1 masks of equal size (1 when both are empty). */
export function maskIou(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`maskIou: ${a.length} vs ${b.length} values`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) inter++;
    if (a[i] || b[i]) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** A mask [F, H, W] reduced to [F, H/k, W/k]: a cell is 1 when at least half its pixels are. */
export function downsampleMask(mask: Uint8Array, frames: number, height: number, width: number, k: number): Uint8Array {
  const [h, w] = [Math.floor(height / k), Math.floor(width / k)];
  const out = new Uint8Array(frames * h * w); // [F, h, w]
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let on = 0;
        for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) on += mask[(f * height + y * k + dy) * width + x * k + dx];
        out[(f * h + y) * w + x] = 2 * on >= k * k ? 1 : 0;
      }
    }
  }
  return out;
}

/** A mask [F, H, W] grown by `radius` pixels (square neighbourhood), per frame. */
export function dilateMask(mask: Uint8Array, frames: number, height: number, width: number, radius: number): Uint8Array {
  const out = new Uint8Array(mask.length); // [F, H, W]
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!mask[(f * height + y) * width + x]) continue;
        for (let yy = Math.max(0, y - radius); yy <= Math.min(height - 1, y + radius); yy++) {
          out.fill(1, (f * height + yy) * width + Math.max(0, x - radius), (f * height + yy) * width + Math.min(width - 1, x + radius) + 1);
        }
      }
    }
  }
  return out;
}

/** The complement of a 0/1 mask. */
export function invertMask(mask: Uint8Array): Uint8Array {
  return mask.map((v) => (v ? 0 : 1));
}

/** The vehicle colour nearest (in RGB) to the median colour of the masked pixels. */
export function dominantColour(frames: Uint8Array, mask: Uint8Array): VehicleColour {
  const channels: number[][] = [[], [], []];
  for (let p = 0; p < mask.length; p++) if (mask[p]) for (let c = 0; c < 3; c++) channels[c].push(frames[p * 3 + c]);
  if (channels[0].length === 0) throw new Error("dominantColour: the mask selects no pixel");
  const median = channels.map((v) => v.sort((a, b) => a - b)[v.length >> 1]);
  let best: VehicleColour = COLOUR_NAMES[0];
  let bestDistance = Infinity;
  for (const name of COLOUR_NAMES) {
    const rgb: readonly number[] = VEHICLE_COLOURS[name];
    const d = rgb.reduce((s, v, c) => s + (v - median[c]) ** 2, 0);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Mean absolute change between consecutive frames (0 for a single frame). */
export function frameChange(frames: Uint8Array, count: number): number {
  if (count < 2) return 0;
  const size = frames.length / count;
  let sum = 0;
  for (let f = 1; f < count; f++) for (let i = 0; i < size; i++) sum += Math.abs(frames[f * size + i] - frames[(f - 1) * size + i]);
  return sum / (size * (count - 1));
}
