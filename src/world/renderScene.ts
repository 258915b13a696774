// Drawing a world clip: sky, sun or moon, clouds, hills, trees, road and vehicle, analytically per
// sub-sample (2×2 per pixel, for smooth edges without a rasteriser), so it is synchronous and
// byte-identical on every machine. Every sub-sample also records which named thing it hit, which gives the
// ground-truth masks. With the sample layout and attributes it draws exactly the sample clip.
import type { WorldLayout } from "./layout";
import { PALETTES, vehiclePalette, type Palette, type Rgb } from "./palette";
import { VEHICLE_HEIGHT, vehicleColour } from "./vehicles";
import { MASK_NAMES, type Setting, type VehicleColour, type VehicleKind } from "./vocabulary";

/** Sub-samples per pixel and axis. */
export const SUPERSAMPLING = 2;

// Labels: each named thing's index in MASK_NAMES.
const SKY = MASK_NAMES.indexOf("sky");
const HILLS = MASK_NAMES.indexOf("hills");
const TREES = MASK_NAMES.indexOf("trees");
const ROAD = MASK_NAMES.indexOf("road");
const VEHICLE = MASK_NAMES.indexOf("vehicle");

/** What a render returns: frames and, per pixel and label, how many sub-samples hit it. */
export interface SceneRender {
  frames: Uint8Array; // [F, H, W, 3]
  votes: Uint8Array; // [F, H, W, L] with L = MASK_NAMES.length, each 0..SUPERSAMPLING²
}

/** The scene contents that do not depend on the drawing style. */
export interface SceneContents {
  layout: WorldLayout;
  kind: VehicleKind;
  colour: VehicleColour;
  setting: Setting;
}

function dist2(dx: number, dy: number): number {
  return dx * dx + dy * dy;
}

/** Scratch colour for gradients: each colour is consumed before the next is asked for. */
const blend: [number, number, number] = [0, 0, 0];

function mix(a: Rgb, b: Rgb, w: number): Rgb {
  for (let c = 0; c < 3; c++) blend[c] = a[c] + (b[c] - a[c]) * w;
  return blend;
}

/** A hash of integer cell coordinates to [0, 1), for the fixed star field. */
function cellHash(i: number, j: number): number {
  let h = Math.imul(i, 374761393) ^ Math.imul(j, 668265263);
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Stars: one candidate per cell of a 48×48 grid, a third of them lit. */
function isStar(u: number, v: number): boolean {
  const i = Math.floor(u * 48);
  const j = Math.floor(v * 48);
  if (cellHash(i, j) > 0.33) return false;
  const su = (i + 0.2 + 0.6 * cellHash(j, i + 7)) / 48;
  const sv = (j + 0.2 + 0.6 * cellHash(i + 3, j + 11)) / 48;
  return dist2(u - su, v - sv) < 0.0022 * 0.0022;
}

/** Draws one clip's frames; holds the layout-derived functions. */
class SceneDrawer {
  readonly palette: Palette;
  /** Label of the last sceneColour call. */
  label = SKY;
  /** Whether the last sceneColour call hit the road's surface (where the vehicle casts its shadow). */
  roadSurface = false;

  constructor(private readonly s: SceneContents) {
    this.palette = PALETTES[s.setting];
  }

  roadT(v: number): number {
    const top = this.s.layout.roadTop;
    return v < top ? -1 : (v - top) / (1 - top);
  }

  roadCentre(t: number): number {
    const [c0, c1, c2] = this.s.layout.roadCentre;
    return c0 + c1 * t + c2 * (1 - t) * (1 - t);
  }

  roadHalfWidth(t: number): number {
    const [w0, w1] = this.s.layout.roadHalfWidth;
    return w0 + w1 * t;
  }

  /** The vehicle's pose in frame `phase`: ground point, scale (half width) and tilt following the bend. */
  vehiclePose(phase: number): { u: number; v: number; k: number; cos: number; sin: number } {
    const { tStart, travel, scale, lateral } = this.s.layout.vehicle;
    const t = tStart - travel * phase;
    const slope = (this.roadCentre(t + 1e-3) - this.roadCentre(t - 1e-3)) / 2e-3; // du/dt of the road centre
    const tilt = 0.25 * Math.atan(slope); // lean into the bend a little
    const hw = this.roadHalfWidth(t);
    const top = this.s.layout.roadTop;
    return { u: this.roadCentre(t) + lateral * hw, v: top + t * (1 - top), k: hw * scale, cos: Math.cos(tilt), sin: Math.sin(tilt) };
  }

  /** A tree's trunk or round canopy at (u, v), if any. */
  treeColour(u: number, v: number): Rgb | undefined {
    const p = this.palette;
    for (const [tu, base, r] of this.s.layout.trees) {
      if (Math.abs(u - tu) > r || v > base || v < base - r * 3) continue;
      if (Math.abs(u - tu) < r * 0.18 && v < base && v > base - r * 1.6) return p.trunk;
      if (dist2(u - tu, v - (base - r * 2)) < r * r) return p.canopyTop && v < base - r * 2 ? p.canopyTop : p.canopy;
    }
    return undefined;
  }

  isCloud(u: number, v: number): boolean {
    if (v > 0.33) return false;
    for (const [cu, cv, s] of this.s.layout.clouds) {
      const du = (u - cu) / s;
      const dv = (v - cv) / s;
      if (dist2(du, dv) < 0.045 ** 2 || dist2(du + 0.05, dv - 0.015) < 0.035 ** 2 || dist2(du - 0.05, dv - 0.012) < 0.038 ** 2) return true;
    }
    return false;
  }

  /** Everything but the vehicle at (u, v) in frame `phase`; sets `label` and `roadSurface`. */
  sceneColour(u: number, v: number, phase: number, farHill: number, nearHill: number): Rgb {
    const p = this.palette;
    const L = this.s.layout;
    this.roadSurface = false;
    const tree = this.treeColour(u, v);
    if (tree) {
      this.label = TREES;
      return tree;
    }
    if (v < nearHill) {
      if (v >= farHill) {
        this.label = HILLS;
        return p.farHill;
      }
      this.label = SKY;
      const [su, sv, sr] = L.sun;
      if (dist2(u - su, v - sv) < sr * sr) return p.sun;
      if (this.isCloud(u - L.cloudDrift * phase, v)) return p.cloud; // the clouds drift right over the clip
      if (p.star && isStar(u, v)) return p.star;
      return mix(p.skyTop, p.skyLow, Math.min(1, v / L.horizon));
    }
    const t = this.roadT(v);
    if (t >= 0) {
      const d = Math.abs(u - this.roadCentre(t));
      const hw = this.roadHalfWidth(t);
      if (d < hw) {
        this.label = ROAD;
        if (d > hw * 0.93) return p.marking;
        // Dashes evenly spaced in depth: 1/(t + c) grows like distance along the road.
        if (d < 0.003 + 0.006 * t && (2.2 / (t + 0.2)) % 1 < 0.5) return p.centreLine;
        this.roadSurface = true;
        return p.road;
      }
    }
    this.label = HILLS;
    return mix(p.nearHill, p.meadowLow, Math.max(0, (v - nearHill) / (1 - nearHill)));
  }

  /** Draw F frames of size² with their label votes. */
  draw(frames: number, size: number): SceneRender {
    const L = this.s.layout;
    const ss = SUPERSAMPLING;
    const n = size * ss;
    const farHill = new Float64Array(n); // [n] per sub-sample column
    const nearHill = new Float64Array(n); // [n]
    const fh = L.farHill;
    const nh = L.nearHill;
    for (let i = 0; i < n; i++) {
      const u = (i + 0.5) / n;
      farHill[i] =
        L.horizon -
        fh.amp * (0.5 + 0.5 * Math.sin(2 * Math.PI * (fh.freq * u + fh.phase))) -
        fh.amp2 * Math.sin(2 * Math.PI * fh.freq2 * u);
      nearHill[i] = nh.base - nh.amp * (0.5 + 0.5 * Math.sin(2 * Math.PI * (nh.freq * u + nh.phase)));
    }
    const labels = MASK_NAMES.length;
    const out = new Uint8Array(frames * size * size * 3); // [F, H, W, 3]
    const votes = new Uint8Array(frames * size * size * labels); // [F, H, W, L]
    const vehicle = vehiclePalette(this.s.colour, this.s.setting);
    const height = VEHICLE_HEIGHT[this.s.kind];
    const acc = new Float64Array(3);
    for (let f = 0; f < frames; f++) {
      const phase = frames > 1 ? f / (frames - 1) : 0;
      const car = this.vehiclePose(phase);
      for (let py = 0; py < size; py++) {
        for (let px = 0; px < size; px++) {
          acc.fill(0);
          const pixel = (f * size + py) * size + px;
          for (let sy = 0; sy < ss; sy++) {
            for (let sx = 0; sx < ss; sx++) {
              const i = px * ss + sx;
              const u = (i + 0.5) / n;
              const v = (py * ss + sy + 0.5) / n;
              // Vehicle frame: x across, y up from the ground point; undo the tilt.
              const dx = (u - car.u) / car.k;
              const dy = (car.v - v) / car.k;
              const x = dx * car.cos + dy * car.sin;
              const y = -dx * car.sin + dy * car.cos;
              let c = y <= height + 0.1 ? vehicleColour(this.s.kind, vehicle, x, y) : undefined;
              let label = VEHICLE;
              if (!c) {
                c = this.sceneColour(u, v, phase, farHill[i], nearHill[i]);
                label = this.label;
                // The vehicle's shadow on the road.
                if (this.roadSurface && dist2(x / 1.15, (y + 0.02) / 0.12) < 1) c = this.palette.shadow;
              }
              votes[pixel * labels + label]++;
              acc[0] += c[0];
              acc[1] += c[1];
              acc[2] += c[2];
            }
          }
          for (let ch = 0; ch < 3; ch++) out[pixel * 3 + ch] = Math.round(acc[ch] / (ss * ss));
        }
      }
    }
    return { frames: out, votes };
  }
}

/** Draw F frames of size² of a scene (plain style) with per-label sub-sample votes. */
export function drawScene(contents: SceneContents, frames: number, size: number): SceneRender {
  return new SceneDrawer(contents).draw(frames, size);
}
