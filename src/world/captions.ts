// Captions from a small grammar: [style prefix] a <colour> <kind> <motion> <place>. Variant 0 is the
// canonical caption (the sample clip's is "a red car driving down a curvy road in the countryside"); the
// others say the same with other words, so the model does not learn one sentence by heart.
import type { Setting, Style, WorldAttributes } from "./vocabulary";

const STYLE_PREFIX: Record<Style, string> = { plain: "", watercolor: "a watercolor painting of ", sketch: "a pencil sketch of " };
const PLACE: Record<Setting, string> = {
  countryside: "in the countryside",
  snow: "in the snow",
  desert: "in the desert",
  night: "at night",
};
const MOTIONS = ["driving down a curvy road", "driving along a winding road", "on a curvy road"] as const;

/** How many caption variants the grammar has. */
export const CAPTION_VARIANTS = MOTIONS.length;

/** The caption of a clip with `a` (variant 0: the canonical one). */
export function worldCaption(a: WorldAttributes, variant = 0): string {
  return `${STYLE_PREFIX[a.style]}a ${a.colour} ${a.kind} ${MOTIONS[variant % MOTIONS.length]} ${PLACE[a.setting]}`;
}

/** The words of a caption that name the vehicle (its colour and kind): the blend words of an object edit. */
export function vehicleWords(a: WorldAttributes): string[] {
  return [a.colour, a.kind];
}

/** Every word the grammar can produce, in first-use order. */
export function captionWords(): string[] {
  const words = new Set<string>();
  const add = (text: string) =>
    text
      .split(/\s+/)
      .filter(Boolean)
      .forEach((w) => words.add(w));
  Object.values(STYLE_PREFIX).forEach(add);
  add("a");
  MOTIONS.forEach(add);
  Object.values(PLACE).forEach(add);
  return [...words];
}
