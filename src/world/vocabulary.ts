// The world's vocabulary: what a clip can show, each word stated once. Captions, the tokenizer of the world
// model, the renderer, the CLI and the benchmark all read these lists.
import { InputError } from "../util/inputError";

/** Vehicle kinds, all seen from behind as they drive away. */
export const VEHICLE_KINDS = ["car", "truck", "bus"] as const;
/** Vehicle body colours (sRGB). */
export const VEHICLE_COLOURS = {
  red: [200, 40, 45],
  blue: [40, 85, 200],
  green: [45, 150, 65],
  yellow: [235, 200, 40],
  white: [236, 236, 232],
  black: [38, 38, 44],
} as const;
/** Where the road runs. */
export const SETTINGS = ["countryside", "snow", "desert", "night"] as const;
/** How the clip is drawn. */
export const STYLES = ["plain", "watercolor", "sketch"] as const;

export type VehicleKind = (typeof VEHICLE_KINDS)[number];
export type VehicleColour = keyof typeof VEHICLE_COLOURS;
export type Setting = (typeof SETTINGS)[number];
export type Style = (typeof STYLES)[number];
export const COLOUR_NAMES = Object.keys(VEHICLE_COLOURS) as VehicleColour[];

/** Everything a caption names about a clip; the layout (road, hills, motion) comes from the seed. */
export interface WorldAttributes {
  kind: VehicleKind;
  colour: VehicleColour;
  setting: Setting;
  style: Style;
}

/** The attributes of the project's sample clip. */
export const SAMPLE_ATTRIBUTES: WorldAttributes = { kind: "car", colour: "red", setting: "countryside", style: "plain" };

/** The things a ground-truth mask is written for, in label order after `sky`. */
export const MASK_NAMES = ["sky", "hills", "trees", "road", "vehicle"] as const;
export type MaskName = (typeof MASK_NAMES)[number];

/** Check that every attribute is a word of the vocabulary (attributes typed in a notebook are not checked by the compiler). */
export function checkAttributes(a: WorldAttributes): WorldAttributes {
  return {
    kind: oneOf("kind", a.kind, VEHICLE_KINDS),
    colour: oneOf("colour", a.colour, COLOUR_NAMES),
    setting: oneOf("setting", a.setting, SETTINGS),
    style: oneOf("style", a.style, STYLES),
  };
}

/** Check that `value` is one of `allowed`, naming `what` and the allowed values otherwise. */
export function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new InputError(`unknown ${what} "${value}"; one of: ${allowed.join(", ")}`);
  return value as T;
}
