// The editing loop's defaults a model asks for. A world model (its model_index.json stamped `_fatezero.model:
// "world"` by train/train_world.py and the skeleton writer) edits against the source prompt, which world-bench
// measured better for it; every other model — Stable Diffusion folders, single files, the tiny model — runs
// FateZero's defaults, so the fidelity to the official code stays exact.
import type { ModelFolder } from "../networks/modelFolder";
import { WORLD_EDIT_LOOP } from "../world/worldModel";
import type { EditLoopOptions } from "./editOptions";

/** The loop options a model folder asks for over DEFAULT_EDIT_LOOP (none for anything but a world model). */
export function modelEditDefaults(folder: Pick<ModelFolder, "modelIndex"> | undefined): Partial<EditLoopOptions> {
  const stamp = folder?.modelIndex._fatezero;
  const isWorld = typeof stamp === "object" && stamp !== null && (stamp as Record<string, unknown>).model === "world";
  return isWorld ? { ...WORLD_EDIT_LOOP } : {};
}
