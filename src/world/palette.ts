// The colours of each setting. The countryside palette is the sample clip's; the others recolour the same
// scene (snow-covered ground and trees, sand and dry bushes, a dark sky with a moon and stars).
import type { Setting, VehicleColour } from "./vocabulary";
import { VEHICLE_COLOURS } from "./vocabulary";

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

export const PALETTES: Record<Setting, Palette> = {
  countryside: {
    skyTop: [58, 110, 190],
    skyLow: [190, 215, 240],
    sun: [255, 236, 170],
    cloud: [250, 250, 252],
    farHill: [70, 140, 85],
    nearHill: [98, 168, 76],
    meadowLow: [76, 146, 54],
    trunk: [96, 66, 40],
    canopy: [40, 110, 52],
    road: [92, 92, 98],
    shadow: [52, 52, 56],
    marking: [245, 245, 240],
    centreLine: [240, 200, 60],
    light: 1,
  },
  snow: {
    skyTop: [150, 165, 185],
    skyLow: [215, 222, 232],
    sun: [245, 245, 235],
    cloud: [235, 238, 242],
    farHill: [205, 215, 228],
    nearHill: [238, 242, 248],
    meadowLow: [222, 230, 240],
    trunk: [80, 62, 50],
    canopy: [38, 80, 60],
    canopyTop: [240, 244, 250],
    road: [112, 114, 122],
    shadow: [70, 72, 80],
    marking: [250, 250, 250],
    centreLine: [230, 195, 70],
    light: 0.95,
  },
  desert: {
    skyTop: [95, 150, 205],
    skyLow: [235, 215, 175],
    sun: [255, 245, 200],
    cloud: [248, 240, 225],
    farHill: [190, 120, 70],
    nearHill: [226, 190, 130],
    meadowLow: [214, 172, 110],
    trunk: [120, 90, 60],
    canopy: [120, 135, 70],
    road: [105, 98, 92],
    shadow: [62, 56, 52],
    marking: [245, 240, 225],
    centreLine: [245, 205, 70],
    light: 1.05,
  },
  night: {
    skyTop: [8, 12, 38],
    skyLow: [38, 48, 92],
    sun: [232, 232, 210],
    cloud: [60, 66, 96],
    farHill: [18, 32, 38],
    nearHill: [24, 42, 34],
    meadowLow: [16, 32, 24],
    trunk: [30, 24, 20],
    canopy: [12, 30, 20],
    road: [40, 40, 48],
    shadow: [20, 20, 26],
    marking: [150, 150, 150],
    centreLine: [140, 120, 50],
    star: [235, 235, 250],
    light: 0.4,
  },
};

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
