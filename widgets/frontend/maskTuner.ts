// MaskTuner: blend-word chips, threshold, step windows and the preview step, with per frame the frame and
// the blend mask the kernel computed for these settings. Sliders save once per animation frame while
// dragged, so the kernel recomputes the preview live.
import { DOMWidgetModel, DOMWidgetView } from "@jupyter-widgets/base";
import { WIDGETS, type ClipFrames, widgetIdentity } from "../shared/widgetStates";
import { maskImage } from "./colormap";
import { bytes, h, perFrame, rangeInput } from "./dom";
import { FrameOverlays } from "./frameOverlays";
import { injectStyle } from "./style";

export class MaskTunerModel extends DOMWidgetModel {
  // The state, defaults included, comes from the kernel-side model; only the identity is known here.
  defaults() {
    return { ...super.defaults(), ...widgetIdentity(WIDGETS.maskTuner) };
  }
}

/** The three step-window keys and their test-id stems. */
const WINDOWS = [
  ["self_replace_steps", "self", "self-attention replace"],
  ["cross_replace_steps", "cross", "cross-attention replace"],
  ["latent_blend_steps", "latent", "latent blend"],
] as const;

export class MaskTunerView extends DOMWidgetView {
  private prompt = h("div", { cls: "fz-muted" });
  private words = h("div", { cls: "fz-row" });
  private threshold = rangeInput("fz-threshold", 0, 1, 0.01);
  private thresholdLabel = h("span", { cls: "fz-muted" });
  private blendLatents = h("input", { testid: "fz-blend-latents" });
  private step = rangeInput("fz-preview-step", 0, 0, 1);
  private stepLabel = h("span", { cls: "fz-muted" });
  private windows = WINDOWS.map(([key, stem]) => ({
    key,
    start: rangeInput(`fz-${stem}-start`, 0, 1, 0.01),
    end: rangeInput(`fz-${stem}-end`, 0, 1, 0.01),
    label: h("span", { cls: "fz-muted" }),
  }));
  private error = h("div", { cls: "fz-error", testid: "fz-tuner-error" });
  private frames = new FrameOverlays("fz-mask", "fz-area");
  private previewMs = h("span", { cls: "fz-muted", testid: "fz-preview-ms" });
  private saveSoon = perFrame(() => this.model.save_changes());

  render(): void {
    injectStyle();
    this.el.classList.add("fz-widget");
    this.el.dataset.testid = "fz-tuner";
    this.blendLatents.type = "checkbox";
    const grid = h(
      "div",
      { cls: "fz-grid" },
      h("span", { text: "threshold" }),
      h("div", { cls: "fz-row" }, this.threshold, this.thresholdLabel),
    );
    this.windows.forEach((w, i) => grid.append(h("span", { text: WINDOWS[i][2] }), h("div", { cls: "fz-row" }, w.start, w.end, w.label)));
    grid.append(
      h("span", { text: "blend latents" }),
      h("div", { cls: "fz-row" }, this.blendLatents),
      h("span", { text: "preview step" }),
      h("div", { cls: "fz-row" }, this.step, this.stepLabel),
    );
    this.el.append(
      this.prompt,
      this.words,
      grid,
      this.error,
      this.frames.element,
      h("div", { cls: "fz-row" }, h("span", { cls: "fz-muted", text: "preview" }), this.previewMs),
    );

    this.threshold.addEventListener("input", () => this.live({ threshold: Number(this.threshold.value) }));
    this.step.addEventListener("input", () => this.live({ step: Number(this.step.value) }));
    this.blendLatents.addEventListener("change", () => this.live({ blend_latents: this.blendLatents.checked }));
    for (const w of this.windows) {
      // Dragging one handle past the other moves both, so a window is never inverted.
      w.start.addEventListener("input", () =>
        this.live({ [w.key]: [Number(w.start.value), Math.max(Number(w.start.value), Number(w.end.value))] }),
      );
      w.end.addEventListener("input", () =>
        this.live({ [w.key]: [Math.min(Number(w.start.value), Number(w.end.value)), Number(w.end.value)] }),
      );
    }

    this.listenTo(this.model, "change:source_prompt change:words change:blend_words", () => this.renderWords());
    this.listenTo(this.model, "change", () => this.renderControls());
    this.listenTo(this.model, "change:clip", () => this.loadClip());
    this.listenTo(this.model, "change:mask change:mask_height change:mask_width change:areas", () => this.draw());
    this.renderWords();
    this.renderControls();
    this.loadClip();
  }

  private live(changes: Record<string, unknown>): void {
    this.model.set(changes);
    this.saveSoon();
  }

  private renderWords(): void {
    this.prompt.textContent = String(this.model.get("source_prompt") ?? "");
    const chosen = new Set((this.model.get("blend_words") ?? []) as string[]);
    const words = (this.model.get("words") ?? []) as string[];
    this.words.replaceChildren(
      h("span", { text: "blend words" }),
      ...words.map((word, i) => {
        const chip = h("button", { cls: chosen.has(word) ? "fz-chip fz-selected" : "fz-chip", testid: `fz-word-${i}`, text: word });
        chip.setAttribute("aria-pressed", String(chosen.has(word)));
        chip.addEventListener("click", () => {
          const current = (this.model.get("blend_words") ?? []) as string[];
          // Keep prompt order, so the kernel sees the words as they appear in the source prompt.
          const next = current.includes(word) ? current.filter((w) => w !== word) : words.filter((w) => w === word || current.includes(w));
          this.model.set("blend_words", next);
          this.model.save_changes();
        });
        return chip;
      }),
    );
  }

  // Inputs the user is dragging are left alone: rewriting their value would fight the pointer.
  private renderControls(): void {
    const set = (input: HTMLInputElement, value: number) => {
      if (document.activeElement !== input) input.value = String(value);
    };
    const threshold = Number(this.model.get("threshold"));
    set(this.threshold, threshold);
    this.thresholdLabel.textContent = threshold.toFixed(2);
    for (const w of this.windows) {
      const window = this.model.get(w.key) as [number, number] | undefined;
      if (!window) continue;
      const [start, end] = window;
      set(w.start, start);
      set(w.end, end);
      w.label.textContent = `${start.toFixed(2)} – ${end.toFixed(2)}`;
    }
    const blend = Boolean(this.model.get("blend_latents"));
    this.blendLatents.checked = blend;
    const latent = this.windows[2];
    latent.start.disabled = latent.end.disabled = !blend;
    const steps = Math.max(1, Number(this.model.get("steps")) || 1);
    this.step.max = String(steps - 1);
    set(this.step, Number(this.model.get("step")));
    this.stepLabel.textContent = `${Number(this.model.get("step")) + 1} / ${steps}`;
    const error = String(this.model.get("error") ?? "");
    this.error.textContent = error;
    this.error.classList.toggle("fz-error-box", error !== "");
    this.previewMs.textContent = `${Number(this.model.get("preview_ms")).toFixed(0)} ms`;
  }

  private loadClip(): void {
    this.frames.setClip(this.model.get("clip") as ClipFrames);
    this.draw();
  }

  private draw(): void {
    const mask = bytes(this.model.get("mask"));
    const [mh, mw] = [Number(this.model.get("mask_height")), Number(this.model.get("mask_width"))];
    const areas = (this.model.get("areas") ?? []) as number[];
    this.frames.draw({
      count: mh * mw > 0 ? Math.floor(mask.length / (mh * mw)) : 0,
      width: mw,
      height: mh,
      image: (f) => maskImage(mask, f, mw, mh),
      caption: (f) => (areas[f] === undefined ? "" : `${(areas[f] * 100).toFixed(1)} %`),
    });
  }
}
