// The CommManager that widget models use when none is passed: the running kernel's (through
// kernel/kernelContext), so code in cells can write `new WidgetModel(state)`.
import type { CommManager } from "../../kernel/commTypes";
import { currentCommManager, insideKernel } from "../../kernel/kernelContext";

/** The running kernel's CommManager; throws outside the FateZero kernel. */
export function defaultCommManager(): CommManager {
  if (!insideKernel()) throw new Error("no CommManager: create widget models inside the FateZero kernel, or pass options.comms");
  return currentCommManager();
}
