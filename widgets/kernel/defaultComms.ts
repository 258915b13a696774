// The CommManager that widget models use when none is passed: the kernel installs its own at start-up, so
// code in cells can write `new WidgetModel(state)`.
import type { CommManager } from "../../kernel/commTypes";

let current: CommManager | undefined;

/** Make `comms` the CommManager of models created without one (the kernel calls this once). */
export function setDefaultCommManager(comms: CommManager | undefined): void {
  current = comms;
}

/** The CommManager installed by the kernel; throws outside a FateZero kernel. */
export function defaultCommManager(): CommManager {
  if (!current) throw new Error("no CommManager: create widget models inside the FateZero kernel, or pass options.comms");
  return current;
}
