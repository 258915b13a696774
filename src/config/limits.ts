// Bounds on what a config or the command line may ask for: past these a run would only exhaust memory or
// time (the memory estimate of a plan catches what fits these bounds but not the machine).

/** Frames of one clip. */
export const MAX_FRAMES = 10_000;
/** Frame side in pixels. */
export const MAX_SIZE = 8192;
/** DDIM steps: SD's schedule has 1000 training timesteps, so more inference steps than that repeat timesteps. */
export const MAX_STEPS = 1000;
