// The heat-map colour scale: an "inferno"-like ramp from dark purple through red to pale yellow, readable
// over video frames; alpha grows with the value so low attention leaves the frame visible.

const STOPS: [number, number, number][] = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];

/** RGB of value 0…255 on the scale. */
export function colour(value: number): [number, number, number] {
  const t = (Math.min(Math.max(value, 0), 255) / 255) * (STOPS.length - 1);
  const i = Math.min(Math.floor(t), STOPS.length - 2);
  const f = t - i;
  const [a, b] = [STOPS[i], STOPS[i + 1]];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f)) as [number, number, number];
}

const LUT = Array.from({ length: 256 }, (_, v) => colour(v));

/**
 * Frame `f` of a uint8 [F, height, width] heat map as an RGBA image with the scale and value-driven alpha;
 * values are multiplied by `gain` (0 … 1) first, to put a frame on a scale wider than its own.
 */
export function heatImage(map: Uint8Array, f: number, width: number, height: number, gain = 1, maxAlpha = 0.7): ImageData | undefined {
  const n = width * height;
  if (n === 0 || map.length < (f + 1) * n) return undefined;
  const image = new ImageData(width, height);
  for (let p = 0; p < n; p++) {
    const v = Math.round(map[f * n + p] * gain);
    const [r, g, b] = LUT[v];
    image.data.set([r, g, b, Math.round(255 * maxAlpha * (0.25 + (0.75 * v) / 255))], p * 4);
  }
  return image;
}

/** Frame `f` of a uint8 0/1 [F, height, width] mask as an RGBA image: a translucent colour where 1. */
export function maskImage(mask: Uint8Array, f: number, width: number, height: number): ImageData | undefined {
  const n = width * height;
  if (n === 0 || mask.length < (f + 1) * n) return undefined;
  const image = new ImageData(width, height);
  for (let p = 0; p < n; p++) {
    if (mask[f * n + p]) image.data.set([0, 200, 255, 140], p * 4);
    else image.data.set([0, 0, 0, 90], p * 4);
  }
  return image;
}

/** A horizontal legend bar of the scale drawn on `canvas`. */
export function drawLegend(canvas: HTMLCanvasElement): void {
  canvas.width = 256;
  canvas.height = 12;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  for (let x = 0; x < 256; x++) {
    const [r, g, b] = LUT[x];
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 0, 1, 12);
  }
}
