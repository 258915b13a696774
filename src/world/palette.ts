// The colours of each setting. The countryside palette is the sample clip's; the others recolour the same
// scene (snow-covered ground and trees, sand and dry bushes, a dark sky with a moon and stars).
import type { Setting, VehicleColour } from "./vocabulary";
import { SETTINGS, VEHICLE_COLOURS } from "./vocabulary";

export type Rgb = readonly [number, number, number];

/** The scene colours of one setting. */
export interface Palette {
  skyTop: Rgb;
  skyLow: Rgb;
  sun: Rgb;
  cloud: Rgb;
  farHill: Rgb;
  nearHill: Rgb;
  meadowLow: Rgb;
  trunk: Rgb;
  canopy: Rgb;
  /** Colour of the canopy's upper half (snow on the trees), if different. */
  canopyTop?: Rgb;
  road: Rgb;
  shadow: Rgb;
  marking: Rgb;
  centreLine: Rgb;
  /** Stars in the sky (night). */
  star?: Rgb;
  /** Light on the vehicle's body: 1 by day. */
  light: number;
}

/** The parts every setting colours, in the order of each setting's colours below. */
const PARTS = [
  "skyTop",
  "skyLow",
  "sun",
  "cloud",
  "farHill",
  "nearHill",
  "meadowLow",
  "trunk",
  "canopy",
  "road",
  "shadow",
  "marking",
  "centreLine",
] as const;
type Part = (typeof PARTS)[number];

/** Each setting's colours of PARTS, in that order, as hex RGB. */
const COLOURS: Record<Setting, string> = {
  countryside: "#3a6ebe #bed7f0 #ffecaa #fafafc #468c55 #62a84c #4c9236 #604228 #286e34 #5c5c62 #343438 #f5f5f0 #f0c83c",
  snow: "#96a5b9 #d7dee8 #f5f5eb #ebeef2 #cdd7e4 #eef2f8 #dee6f0 #503e32 #26503c #70727a #464850 #fafafa #e6c346",
  desert: "#5f96cd #ebd7af #fff5c8 #f8f0e1 #be7846 #e2be82 #d6ac6e #785a3c #788746 #69625c #3e3834 #f5f0e1 #f5cd46",
  night: "#080c26 #26305c #e8e8d2 #3c4260 #122026 #182a22 #102018 #1e1814 #0c1e14 #282830 #14141a #969696 #8c7832",
};

/** What only some settings have (snow on the trees, stars) and each setting's light. */
const EXTRAS: Record<Setting, Pick<Palette, "canopyTop" | "star" | "light">> = {
  countryside: { light: 1 },
  snow: { canopyTop: [240, 244, 250], light: 0.95 },
  desert: { light: 1.05 },
  night: { star: [235, 235, 250], light: 0.4 },
};

/** The palette of one setting: its COLOURS of PARTS and its EXTRAS. */
function settingPalette(setting: Setting): Palette {
  const hex = COLOURS[setting].split(" ");
  const rgb = (h: string): Rgb => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
  const parts = Object.fromEntries(PARTS.map((part, i) => [part, rgb(hex[i])])) as Record<Part, Rgb>;
  return { ...parts, ...EXTRAS[setting] };
}

/** The scene colours of each setting. */
export const PALETTES = Object.fromEntries(SETTINGS.map((setting) => [setting, settingPalette(setting)])) as Record<Setting, Palette>;

/** Vehicle part colours for a body colour in a setting. */
export interface VehiclePalette {
  body: Rgb;
  cabin: Rgb;
  glass: Rgb;
  lamp: Rgb;
  plate: Rgb;
  tyre: Rgb;
  trim: Rgb;
}

/** The sample car's cabin colour; other bodies' cabins are the body colour shaded by CABIN_SHADE. */
const SAMPLE_CABIN: Rgb = [165, 30, 40];
const CABIN_SHADE = 0.8;

/** Part colours of a vehicle of `colour` under the light of `setting` (lamps shine at night). */
export function vehiclePalette(colour: VehicleColour, setting: Setting): VehiclePalette {
  const light = PALETTES[setting].light;
  const body = VEHICLE_COLOURS[colour];
  const lit = (c: Rgb, k = light): Rgb => [Math.min(255, c[0] * k), Math.min(255, c[1] * k), Math.min(255, c[2] * k)];
  const cabin: Rgb = colour === "red" ? SAMPLE_CABIN : [body[0] * CABIN_SHADE, body[1] * CABIN_SHADE, body[2] * CABIN_SHADE];
  return {
    body: light === 1 ? body : lit(body),
    cabin: light === 1 ? cabin : lit(cabin),
    glass: lit([130, 175, 215]),
    lamp: setting === "night" ? [255, 90, 70] : [255, 215, 110],
    plate: lit([235, 235, 220]),
    tyre: [25, 25, 28],
    trim: lit([70, 70, 76]),
  };
}
