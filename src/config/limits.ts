// Bounds on what a config or the command line may ask for: past these a run would only exhaust memory or
// time (the memory estimate of a plan catches what fits these bounds but not the machine).
import { CLIP_TOKENS } from "../tokenizer/clipTokenizer";

/** Frames of one clip. */
export const MAX_FRAMES = 10_000;
/** Frame side in pixels. */
export const MAX_SIZE = 8192;
/** DDIM steps: SD's schedule has 1000 training timesteps, so more inference steps than that repeat timesteps. */
export const MAX_STEPS = 1000;
/** Fixed-point iterations per inversion step: each is one more UNet call per step, and a few converge (docs/method.md). */
export const MAX_INVERSION_ITERATIONS = 50;
/** Characters of a prompt, checked before tokenizing (which bounds it at 75 tokens): far above 75 tokens of words. */
export const MAX_PROMPT_CHARS = 4096;
/** Guidance scale: SD edits at 5–15; far beyond, uncond + s·(cond − uncond) only drives latents out of range. */
export const MAX_GUIDANCE_SCALE = 100;
/** Equalizer (eq_params) words: each must be a word of a prompt, which holds at most CLIP's 75 text tokens. */
export const MAX_EQUALIZER_WORDS = CLIP_TOKENS - 2;
/** An equalizer value (FateZero's configs use 2–10), a factor on attention probabilities. */
export const MAX_EQUALIZER_VALUE = 100;
