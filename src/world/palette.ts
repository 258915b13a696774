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

/** The colours every setting gives. */
type Part = Exclude<keyof Palette, "canopyTop" | "star" | "light">;

/** Each part's colour in each setting: one row a part, to compare the settings side by side. */
const PARTS: Record<Part, Record<Setting, Rgb>> = {
  skyTop: { countryside: [58, 110, 190], snow: [150, 165, 185], desert: [95, 150, 205], night: [8, 12, 38] },
  skyLow: { countryside: [190, 215, 240], snow: [215, 222, 232], desert: [235, 215, 175], night: [38, 48, 92] },
  sun: { countryside: [255, 236, 170], snow: [245, 245, 235], desert: [255, 245, 200], night: [232, 232, 210] },
  cloud: { countryside: [250, 250, 252], snow: [235, 238, 242], desert: [248, 240, 225], night: [60, 66, 96] },
  farHill: { countryside: [70, 140, 85], snow: [205, 215, 228], desert: [190, 120, 70], night: [18, 32, 38] },
  nearHill: { countryside: [98, 168, 76], snow: [238, 242, 248], desert: [226, 190, 130], night: [24, 42, 34] },
  meadowLow: { countryside: [76, 146, 54], snow: [222, 230, 240], desert: [214, 172, 110], night: [16, 32, 24] },
  trunk: { countryside: [96, 66, 40], snow: [80, 62, 50], desert: [120, 90, 60], night: [30, 24, 20] },
  canopy: { countryside: [40, 110, 52], snow: [38, 80, 60], desert: [120, 135, 70], night: [12, 30, 20] },
  road: { countryside: [92, 92, 98], snow: [112, 114, 122], desert: [105, 98, 92], night: [40, 40, 48] },
  shadow: { countryside: [52, 52, 56], snow: [70, 72, 80], desert: [62, 56, 52], night: [20, 20, 26] },
  marking: { countryside: [245, 245, 240], snow: [250, 250, 250], desert: [245, 240, 225], night: [150, 150, 150] },
  centreLine: { countryside: [240, 200, 60], snow: [230, 195, 70], desert: [245, 205, 70], night: [140, 120, 50] },
};

/** What only some settings have (snow on the trees, stars) and each setting's light. */
const EXTRAS: Record<Setting, Pick<Palette, "canopyTop" | "star" | "light">> = {
  countryside: { light: 1 },
  snow: { canopyTop: [240, 244, 250], light: 0.95 },
  desert: { light: 1.05 },
  night: { star: [235, 235, 250], light: 0.4 },
};

/** The palette of one setting: its column of PARTS and its EXTRAS. */
function settingPalette(setting: Setting): Palette {
  const parts = Object.fromEntries(Object.entries(PARTS).map(([part, colours]) => [part, colours[setting]])) as Record<Part, Rgb>;
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
