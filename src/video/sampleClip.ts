// The project's own sample clip: a red car driving away along a curving road, under a gradient sky with a sun
// and drifting clouds, between green hills with a few trees. It stands in for third-party footage (which the
// project may not ship) as the default input of the CLI and notebooks. Drawn analytically in plain TypeScript
// with 2×2 supersampling rather than through an SVG renderer, so it is synchronous and byte-identical on
// every machine with the same Node (no dependence on librsvg or font versions).
import type { VideoClip } from "./readVideo";

/** The `source` name of the generated clip. */
export const SAMPLE_CLIP_SOURCE = "sample:car-road";

type Rgb = [number, number, number];

const HORIZON = 0.42; // where the sky meets the far hills, as a fraction of the height
const ROAD_TOP = 0.47; // where the road disappears behind the near hills
const SKY_TOP: Rgb = [58, 110, 190];
const SKY_LOW: Rgb = [190, 215, 240];
const SUN: Rgb = [255, 236, 170];
const CLOUD: Rgb = [250, 250, 252];
const FAR_HILL: Rgb = [70, 140, 85];
const NEAR_HILL: Rgb = [98, 168, 76];
const MEADOW_LOW: Rgb = [76, 146, 54];
const TRUNK: Rgb = [96, 66, 40];
const CANOPY: Rgb = [40, 110, 52];
const ROAD: Rgb = [92, 92, 98];
const SHADOW: Rgb = [52, 52, 56];
const MARKING: Rgb = [245, 245, 240];
const CENTRE_LINE: Rgb = [240, 200, 60];
const TYRE: Rgb = [25, 25, 28];
const BODY: Rgb = [200, 40, 45];
const CABIN: Rgb = [165, 30, 40];
const GLASS: Rgb = [130, 175, 215];
const LAMP: Rgb = [255, 215, 110];
const PLATE: Rgb = [235, 235, 220];

/** Road parameter t ∈ [0, 1] (0 far end, 1 bottom edge) for a height v, or −1 above the road. */
function roadT(v: number): number {
  return v < ROAD_TOP ? -1 : (v - ROAD_TOP) / (1 - ROAD_TOP);
}

/** The road's centre (fraction of the width) at parameter t: it bends to the right into the distance. */
function roadCentre(t: number): number {
  return 0.5 - 0.12 * t + 0.18 * (1 - t) * (1 - t);
}

/** The road's half width at parameter t (perspective: narrow far, wide near). */
function roadHalfWidth(t: number): number {
  return 0.012 + 0.22 * t;
}

/** The car's pose in one frame: ground point, scale (half width) and tilt following the bend. */
interface CarPose {
  u: number;
  v: number;
  k: number;
  cos: number;
  sin: number;
}

function carPose(phase: number): CarPose {
  const t = 0.9 - 0.55 * phase; // drives away from the camera
  const slope = (roadCentre(t + 1e-3) - roadCentre(t - 1e-3)) / 2e-3; // du/dt of the road centre
  const tilt = 0.25 * Math.atan(slope); // lean into the bend a little
  return { u: roadCentre(t), v: ROAD_TOP + t * (1 - ROAD_TOP), k: roadHalfWidth(t) * 0.75, cos: Math.cos(tilt), sin: Math.sin(tilt) };
}

/** The car seen from behind, in its own frame: x ∈ [−1, 1] across, y up from the ground (units of half width). */
function carColour(x: number, y: number): Rgb | undefined {
  const ax = Math.abs(x);
  if (y < 0 || y > 1.15 || ax > 1) return undefined;
  if (y >= 0.7) {
    const cabinHalf = 0.85 - (y - 0.7) * 0.5;
    if (ax > cabinHalf) return undefined;
    const glassHalf = 0.72 - (y - 0.76) * 0.5;
    return y > 0.76 && y < 1.08 && ax < glassHalf ? GLASS : CABIN;
  }
  if (y < 0.15) return ax > 0.6 && ax < 0.95 ? TYRE : undefined;
  // Rounded lower corners of the body.
  if (y < 0.27 && ax > 0.88 && dist2(ax - 0.88, y - 0.27) > 0.12 * 0.12) return ax > 0.6 && ax < 0.95 ? TYRE : undefined;
  if (y > 0.48 && y < 0.6 && ax > 0.62 && ax < 0.92) return LAMP;
  if (y > 0.28 && y < 0.42 && ax < 0.22) return PLATE;
  return BODY;
}

/** Sky, sun, clouds, hills, trees and road (everything but the car) at (u, v) in frame `phase`. */
function sceneColour(u: number, v: number, phase: number, farHill: number, nearHill: number): Rgb {
  const tree = treeColour(u, v);
  if (tree) return tree;
  if (v < nearHill) {
    if (v >= farHill) return FAR_HILL;
    if (dist2(u - 0.78, v - 0.14) < 0.055 * 0.055) return SUN;
    if (isCloud(u - 0.08 * phase, v)) return CLOUD; // the clouds drift right over the clip
    return mix(SKY_TOP, SKY_LOW, Math.min(1, v / HORIZON));
  }
  const t = roadT(v);
  if (t >= 0) {
    const d = Math.abs(u - roadCentre(t));
    const hw = roadHalfWidth(t);
    if (d < hw) {
      if (d > hw * 0.93) return MARKING;
      // Dashes evenly spaced in depth: 1/(t + c) grows like distance along the road.
      if (d < 0.003 + 0.006 * t && (2.2 / (t + 0.2)) % 1 < 0.5) return CENTRE_LINE;
      return ROAD;
    }
  }
  return mix(NEAR_HILL, MEADOW_LOW, Math.max(0, (v - nearHill) / (1 - nearHill)));
}

/** Trees (u, ground v, canopy radius) standing on the near hills. */
const TREES: readonly (readonly [number, number, number])[] = [[0.1, 0.53, 0.045], [0.22, 0.5, 0.035], [0.9, 0.52, 0.05]];

/** A tree's trunk or round canopy at (u, v), if any. */
function treeColour(u: number, v: number): Rgb | undefined {
  if (v > 0.54 || (u > 0.27 && u < 0.85)) return undefined;
  for (const [tu, base, r] of TREES) {
    if (Math.abs(u - tu) < r * 0.18 && v < base && v > base - r * 1.6) return TRUNK;
    if (dist2(u - tu, v - (base - r * 2)) < r * r) return CANOPY;
  }
  return undefined;
}

/** Clouds (u, v, scale), each drawn as a union of three discs. */
const CLOUDS: readonly (readonly [number, number, number])[] = [[0.2, 0.12, 1], [0.52, 0.22, 0.7]];

function isCloud(u: number, v: number): boolean {
  if (v > 0.27) return false;
  for (const [cu, cv, s] of CLOUDS) {
    const du = (u - cu) / s;
    const dv = (v - cv) / s;
    if (dist2(du, dv) < 0.045 ** 2 || dist2(du + 0.05, dv - 0.015) < 0.035 ** 2 || dist2(du - 0.05, dv - 0.012) < 0.038 ** 2) return true;
  }
  return false;
}

function dist2(dx: number, dy: number): number {
  return dx * dx + dy * dy;
}

/** Scratch colour for gradients: the renderer consumes each colour before asking for the next. */
const blend: Rgb = [0, 0, 0];

function mix(a: Rgb, b: Rgb, w: number): Rgb {
  for (let c = 0; c < 3; c++) blend[c] = a[c] + (b[c] - a[c]) * w;
  return blend;
}

/** The project's deterministic synthetic sample clip: a car driving along a curved road (F frames of size²). */
export function makeSampleClip(frames = 8, size = 512): VideoClip {
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`makeSampleClip: frames must be a positive integer, got ${frames}`);
  if (!Number.isInteger(size) || size < 16) throw new Error(`makeSampleClip: size must be an integer ≥ 16, got ${size}`);
  const ss = 2; // supersampling per axis: smooth edges without a rasteriser
  const n = size * ss;
  const farHill = new Float64Array(n); // [n] per subsample column
  const nearHill = new Float64Array(n); // [n]
  for (let i = 0; i < n; i++) {
    const u = (i + 0.5) / n;
    farHill[i] = HORIZON - 0.07 * (0.5 + 0.5 * Math.sin(2 * Math.PI * (1.1 * u + 0.15))) - 0.015 * Math.sin(2 * Math.PI * 3.3 * u);
    nearHill[i] = 0.5 - 0.05 * (0.5 + 0.5 * Math.sin(2 * Math.PI * (0.8 * u + 0.6)));
  }
  const out = new Uint8Array(frames * size * size * 3); // [F, H, W, 3]
  const acc = new Float64Array(3);
  for (let f = 0; f < frames; f++) {
    const phase = frames > 1 ? f / (frames - 1) : 0;
    const car = carPose(phase);
    for (let py = 0; py < size; py++) {
      for (let px = 0; px < size; px++) {
        acc.fill(0);
        for (let sy = 0; sy < ss; sy++) {
          for (let sx = 0; sx < ss; sx++) {
            const i = px * ss + sx;
            const u = (i + 0.5) / n;
            const v = (py * ss + sy + 0.5) / n;
            // Car frame: x across, y up from the ground point; undo the tilt.
            const dx = (u - car.u) / car.k;
            const dy = (car.v - v) / car.k;
            const x = dx * car.cos + dy * car.sin;
            const y = -dx * car.sin + dy * car.cos;
            let c = carColour(x, y);
            if (!c) {
              c = sceneColour(u, v, phase, farHill[i], nearHill[i]);
              // The car's shadow on the road.
              if (c === ROAD && dist2(x / 1.15, (y + 0.02) / 0.12) < 1) c = SHADOW;
            }
            acc[0] += c[0];
            acc[1] += c[1];
            acc[2] += c[2];
          }
        }
        const o = ((f * size + py) * size + px) * 3;
        for (let ch = 0; ch < 3; ch++) out[o + ch] = Math.round(acc[ch] / (ss * ss));
      }
    }
  }
  return { frames: out, count: frames, height: size, width: size, source: SAMPLE_CLIP_SOURCE, fps: 10 };
}
