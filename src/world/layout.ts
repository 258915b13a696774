// Where things are in a world clip: the road's curve and width, the hills, sun, clouds and trees, and the
// vehicle's path. A layout depends only on the seed, so a clip re-rendered with another colour, vehicle,
// setting or style keeps the same geometry and motion (the ground-truth target of an edit). The sample
// clip's layout is the seed of truth: random layouts vary around it, with a larger vehicle.
import { InputError } from "../util/inputError";

/** Scene geometry in frame fractions (u across, v down), all frames of one clip. */
export interface WorldLayout {
  /** Where the sky meets the far hills. */
  horizon: number;
  /** Where the road disappears behind the near hills. */
  roadTop: number;
  /** Road centre at depth t ∈ [0, 1] (0 far, 1 bottom edge): c0 + c1·t + c2·(1 − t)². */
  roadCentre: [number, number, number];
  /** Road half width at depth t: w0 + w1·t. */
  roadHalfWidth: [number, number];
  /** Far hill line: horizon − amp·(½ + ½·sin 2π(freq·u + phase)) − amp2·sin 2π(freq2·u). */
  farHill: { amp: number; freq: number; phase: number; amp2: number; freq2: number };
  /** Near hill line: base − amp·(½ + ½·sin 2π(freq·u + phase)). */
  nearHill: { base: number; amp: number; freq: number; phase: number };
  /** Sun (or moon): centre u, v and radius. */
  sun: [number, number, number];
  /** Clouds: centre u, v and scale; they drift right by `cloudDrift` over the clip. */
  clouds: [number, number, number][];
  cloudDrift: number;
  /** Trees on the near hills: u, ground v, canopy radius. */
  trees: [number, number, number][];
  /** The vehicle drives from depth `tStart` to `tStart − travel`, at `lateral` half widths from the centre. */
  vehicle: { tStart: number; travel: number; scale: number; lateral: number };
}

/** The sample clip's layout. */
export const SAMPLE_LAYOUT: WorldLayout = {
  horizon: 0.42,
  roadTop: 0.47,
  roadCentre: [0.5, -0.12, 0.18],
  roadHalfWidth: [0.012, 0.22],
  farHill: { amp: 0.07, freq: 1.1, phase: 0.15, amp2: 0.015, freq2: 3.3 },
  nearHill: { base: 0.5, amp: 0.05, freq: 0.8, phase: 0.6 },
  sun: [0.78, 0.14, 0.055],
  clouds: [
    [0.2, 0.12, 1],
    [0.52, 0.22, 0.7],
  ],
  cloudDrift: 0.08,
  trees: [
    [0.1, 0.53, 0.045],
    [0.22, 0.5, 0.035],
    [0.9, 0.52, 0.05],
  ],
  vehicle: { tStart: 0.9, travel: 0.55, scale: 0.75, lateral: 0 },
};

/** Largest seed: seeds are non-negative integers that a double holds exactly. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** Check a seed (a non-negative safe integer), naming `what` when it is not. */
export function checkSeed(seed: unknown, what = "seed"): number {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0)
    throw new InputError(`${what} must be a non-negative integer, got ${String(seed)}`);
  return seed;
}

/** A deterministic uniform generator on [0, 1) from a seed (splitmix64 folded into 32-bit mulberry32). */
export function seededRandom(seed: number): () => number {
  let s = (Math.floor(seed / 0x100000000) * 0x9e3779b9) ^ (seed >>> 0) ^ 0x6d2b79f5;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The layout of world seed `seed`: every feature of the sample layout varied within a range that keeps it on screen. */
export function worldLayout(seed: number): WorldLayout {
  const random = seededRandom(checkSeed(seed));
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  const bend = between(-0.22, 0.22);
  const trees: [number, number, number][] = [];
  const treeCount = Math.floor(between(1, 5));
  for (let i = 0; i < treeCount; i++) {
    // Trees stand left or right of the road's far end, never on it.
    const left = random() < 0.5;
    trees.push([left ? between(0.04, 0.26) : between(0.74, 0.96), between(0.5, 0.535), between(0.03, 0.055)]);
  }
  const clouds: [number, number, number][] = [];
  const cloudCount = Math.floor(between(0, 4));
  for (let i = 0; i < cloudCount; i++) clouds.push([between(0.05, 0.9), between(0.08, 0.25), between(0.6, 1.2)]);
  const horizon = between(0.38, 0.44);
  return {
    horizon,
    roadTop: horizon + 0.05,
    roadCentre: [between(0.42, 0.58), -bend * 0.6, bend],
    roadHalfWidth: [between(0.01, 0.02), between(0.26, 0.34)],
    farHill: { amp: between(0.04, 0.09), freq: between(0.7, 1.6), phase: random(), amp2: between(0, 0.02), freq2: between(2.5, 4.5) },
    nearHill: { base: horizon + 0.08, amp: between(0.03, 0.06), freq: between(0.5, 1.1), phase: random() },
    sun: [random() < 0.5 ? between(0.08, 0.3) : between(0.65, 0.92), between(0.08, 0.2), between(0.04, 0.06)],
    clouds,
    cloudDrift: between(0.03, 0.1),
    trees,
    vehicle: { tStart: between(0.82, 0.95), travel: between(0.2, 0.4), scale: between(0.82, 0.95), lateral: between(-0.25, 0.25) },
  };
}
