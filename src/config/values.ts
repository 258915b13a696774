// The values both the YAML reader (fatezeroConfig, p2pConfig) and the widgets' kernel-side checks (widgets/kernelSide)
// accept: one zod schema each, with its limit from limits.ts, so a limit cannot drift between the two. A config
// names a refused value with the kind's `what`; a widget logs zod's issue.
import { z } from "zod";
import { NEGATIVE_PROMPTS } from "../fatezero/editOptions";
import { numberBetween, oneOfKind, textUpTo, zodKind } from "./configTree";
import { MAX_EQUALIZER_VALUE, MAX_GUIDANCE_SCALE, MAX_PROMPT_CHARS } from "./limits";

/** A prompt, bounded in characters (its tokens are checked when it is encoded). */
export const PROMPT = textUpTo(MAX_PROMPT_CHARS);

/** The classifier-free guidance scale. */
export const GUIDANCE_SCALE = numberBetween(0, MAX_GUIDANCE_SCALE);

/** A fraction of the denoising steps. */
export const STEP_FRACTION = zodKind(z.number().min(0).max(1), "a number in [0, 1]");

/** A step window: [start, end] fractions of the denoising steps, the start not after the end. */
export const STEP_WINDOW = zodKind(
  z.tuple([STEP_FRACTION.schema, STEP_FRACTION.schema]).refine(([start, end]) => start <= end, "the window starts after it ends"),
  "[start, end] fractions of the steps, start first",
);

/** An equalizer (eq_params) value, a factor on a word's attention probabilities. */
export const EQUALIZER_VALUE = numberBetween(-MAX_EQUALIZER_VALUE, MAX_EQUALIZER_VALUE);

/** What the unconditional branch of guidance encodes. */
export const NEGATIVE_PROMPT = oneOfKind(NEGATIVE_PROMPTS);
