// Kernel side of the EditPanel: the edit's prompt and controls, and the Run / Cancel of one task at a time.
// The task itself (the editing loop) is given by whoever owns the panel (EditStudio); the panel keeps the
// frontend informed: running, done/total, a status line and the last error.
import { z } from "zod";
import { MAX_EQUALIZER_WORDS } from "../../src/config/limits";
import { EQUALIZER_VALUE, GUIDANCE_SCALE, PROMPT } from "../../src/config/values";
import { DEFAULT_EDIT_LOOP, DEFAULT_P2P } from "../../src/fatezero/editOptions";
import { insideKernel, interruptSignal } from "../../kernel/kernelContext";
import type { WidgetState } from "../comm/protocol";
import { WidgetModel, type FrontendKeys, type WidgetModelOptions } from "../comm/widgetModel";
import { WIDGETS, type EditPanelState, type EqualizerEntry, widgetIdentity } from "../shared/widgetStates";

/** Options of a panel. */
export interface EditPanelOptions extends WidgetModelOptions {
  sourcePrompt: string;
  prompt: string;
  controller?: "replace" | "refine";
  equalizer?: EqualizerEntry[];
  guidanceScale?: number;
}

/** What a run reports back: `(done, total)` progress. */
export type RunProgress = (done: number, total: number) => void;
/** A task the Run button starts; resolves to the status line shown when it ends. */
export type RunTask = (signal: AbortSignal, progress: RunProgress) => Promise<string>;

/**
 * What a view may set: the prompts and controls within the CLI's limits (a prompt's tokens are checked by the
 * edit, which shows the error).
 */
const FRONTEND_KEYS: FrontendKeys<EditPanelState> = () => ({
  source_prompt: PROMPT.schema,
  prompt: PROMPT.schema,
  controller: z.enum(["replace", "refine"]),
  equalizer: z.array(z.object({ word: PROMPT.schema, value: EQUALIZER_VALUE.schema })).max(MAX_EQUALIZER_WORDS),
  guidance_scale: GUIDANCE_SCALE.schema,
});

/** Prompt, controls and Run / Cancel of an edit. */
export class EditPanel extends WidgetModel<EditPanelState & WidgetState> {
  private task: RunTask | undefined;
  private abort: AbortController | undefined;
  private current: Promise<string> | undefined;

  /** Open a panel; `task` (or one given later with `setTask`) runs when the frontend's Run is pressed. */
  static create(options: EditPanelOptions, task?: RunTask): EditPanel {
    const panel = new EditPanel(
      {
        ...widgetIdentity(WIDGETS.editPanel),
        source_prompt: options.sourcePrompt,
        prompt: options.prompt,
        controller: options.controller ?? (DEFAULT_P2P.isReplaceController ? "replace" : "refine"),
        equalizer: options.equalizer ?? [],
        guidance_scale: options.guidanceScale ?? DEFAULT_EDIT_LOOP.guidanceScale,
        running: false,
        done: 0,
        total: 0,
        status: "ready",
        error: "",
      },
      { ...options, frontendKeys: FRONTEND_KEYS },
    );
    panel.task = task;
    panel.onCustom((content) => panel.handleEvent(content));
    return panel;
  }

  /** Set the task the Run button starts. */
  setTask(task: RunTask): void {
    this.task = task;
  }

  /** Whether a run is in progress. */
  get running(): boolean {
    return this.current !== undefined;
  }

  /** Run `task` (default: the panel's) with progress and cancellation; rejects with its error, which is also shown. */
  run(task: RunTask | undefined = this.task): Promise<string> {
    if (!task) return Promise.reject(new Error("this panel has no task to run"));
    if (this.current) return Promise.reject(new Error("a run is already in progress"));
    const abort = new AbortController();
    this.abort = abort;
    const signal = insideKernel() ? AbortSignal.any([abort.signal, interruptSignal()]) : abort.signal;
    this.update({ running: true, done: 0, total: 0, status: "starting", error: "" });
    const progress: RunProgress = (done, total) => {
      if (!this.closed) this.update({ done, total, status: `running ${done}/${total}` });
    };
    const finish = (fields: Partial<EditPanelState>) => {
      this.current = undefined;
      this.abort = undefined;
      if (!this.closed) this.update({ running: false, ...fields });
    };
    // A task that throws before its first await still ends the run (else the view would show it running forever).
    this.current = new Promise<string>((resolve) => resolve(task(signal, progress))).then(
      (status) => {
        finish({ status });
        return status;
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        finish(signal.aborted ? { status: "cancelled" } : { status: "failed", error: message });
        throw err;
      },
    );
    return this.current;
  }

  /** Cancel the run in progress (it stops at its next step). */
  cancel(): void {
    this.abort?.abort();
  }

  /** A Run click resolves when the run ends, so the kernel shows busy meanwhile; the outcome travels in the state. */
  private handleEvent(content: unknown): Promise<void> | undefined {
    const event = (content as { event?: unknown } | null)?.event;
    if (event === "cancel") this.cancel();
    else if (event === "run") {
      if (!this.current)
        return this.run().then(
          () => undefined,
          () => undefined,
        );
    } else console.error(`edit panel ${this.modelId}: unknown event ${JSON.stringify(event)}`);
    return undefined;
  }
}
