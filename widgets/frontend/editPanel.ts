// EditPanel: the edit's prompts, controller, equalizer and guidance, plus Run / Cancel as custom messages
// (the kernel runs the editing loop and reports progress through `done`, `total`, `status` and `error`).
import { DOMWidgetModel, DOMWidgetView } from "@jupyter-widgets/base";
import { WIDGETS, type EditPanelEvent, type EqualizerEntry, widgetIdentity } from "../shared/widgetStates";
import { h } from "./dom";
import { injectStyle } from "./style";

export class EditPanelModel extends DOMWidgetModel {
  // The state, defaults included, comes from the kernel-side model; only the identity is known here.
  defaults() {
    return { ...super.defaults(), ...widgetIdentity(WIDGETS.editPanel) };
  }
}

function textInput(testid: string): HTMLInputElement {
  const input = h("input", { testid });
  input.type = "text";
  return input;
}

export class EditPanelView extends DOMWidgetView {
  private source = textInput("fz-source-prompt");
  private prompt = textInput("fz-prompt");
  private controllers = (["replace", "refine"] as const).map((value) => {
    const radio = h("input", { testid: `fz-controller-${value}` });
    radio.type = "radio";
    radio.value = value;
    return radio;
  });
  private equalizer = h("div", { cls: "fz-grid" });
  private addEq = h("button", { testid: "fz-eq-add", text: "+ word" });
  private guidance = h("input", { testid: "fz-guidance" });
  private run = h("button", { testid: "fz-run", text: "Run" });
  private cancel = h("button", { testid: "fz-cancel", text: "Cancel" });
  private progress = h("progress", { testid: "fz-progress" });
  private status = h("span", { cls: "fz-muted", testid: "fz-status" });
  private error = h("div", { cls: "fz-error", testid: "fz-panel-error" });

  render(): void {
    injectStyle();
    this.el.classList.add("fz-widget");
    this.el.dataset.testid = "fz-panel";
    // Radio groups are per document: a unique name keeps two panels on one page independent.
    const group = `fz-controller-${Math.random().toString(36).slice(2)}`;
    const radios = h("div", { cls: "fz-row" });
    for (const radio of this.controllers) {
      radio.name = group;
      radio.addEventListener("change", () => radio.checked && this.save({ controller: radio.value }));
      radios.append(h("label", {}, radio, document.createTextNode(` ${radio.value}`)));
    }
    this.guidance.type = "number";
    this.guidance.step = "0.5";
    this.el.append(
      h(
        "div",
        { cls: "fz-grid" },
        h("span", { text: "source prompt" }),
        this.source,
        h("span", { text: "edit prompt" }),
        this.prompt,
        h("span", { text: "controller" }),
        radios,
        h("span", { text: "guidance scale" }),
        this.guidance,
        h("span", { text: "equalizer" }),
        h("div", {}, this.equalizer, this.addEq),
      ),
      h("div", { cls: "fz-row" }, this.run, this.cancel, this.progress, this.status),
      this.error,
    );

    this.source.addEventListener("change", () => this.save({ source_prompt: this.source.value }));
    this.prompt.addEventListener("change", () => this.save({ prompt: this.prompt.value }));
    this.guidance.addEventListener("change", () => this.save({ guidance_scale: Number(this.guidance.value) }));
    this.addEq.addEventListener("click", () => this.saveEqualizer([...this.entries(), { word: "", value: 1 }]));
    this.run.addEventListener("click", () => this.sendEvent({ event: "run" }));
    this.cancel.addEventListener("click", () => this.sendEvent({ event: "cancel" }));

    this.listenTo(this.model, "change:equalizer", () => this.renderEqualizer());
    this.listenTo(this.model, "change", () => this.renderState());
    this.renderEqualizer();
    this.renderState();
  }

  private sendEvent(event: EditPanelEvent): void {
    this.model.send(event, {});
  }

  private save(changes: Record<string, unknown>): void {
    this.model.set(changes);
    this.model.save_changes();
  }

  private entries(): EqualizerEntry[] {
    return ((this.model.get("equalizer") ?? []) as EqualizerEntry[]).map((e) => ({ ...e }));
  }

  private saveEqualizer(entries: EqualizerEntry[]): void {
    this.save({ equalizer: entries });
  }

  private renderEqualizer(): void {
    const entries = this.entries();
    this.equalizer.replaceChildren(
      ...entries.flatMap((entry, i) => {
        const word = textInput(`fz-eq-word-${i}`);
        word.value = entry.word;
        word.style.width = "10em";
        const value = h("input", { testid: `fz-eq-value-${i}` });
        value.type = "number";
        value.step = "0.5";
        value.value = String(entry.value);
        const remove = h("button", { testid: `fz-eq-remove-${i}`, text: "×" });
        word.addEventListener("change", () => this.saveEqualizer(entries.map((e, j) => (j === i ? { ...e, word: word.value } : e))));
        value.addEventListener("change", () =>
          this.saveEqualizer(entries.map((e, j) => (j === i ? { ...e, value: Number(value.value) } : e))),
        );
        remove.addEventListener("click", () => this.saveEqualizer(entries.filter((_, j) => j !== i)));
        return [word, h("div", { cls: "fz-row" }, value, remove)];
      }),
    );
  }

  // Text inputs being edited keep what the user typed until they commit it.
  private renderState(): void {
    const keep = (input: HTMLInputElement, value: unknown) => {
      if (document.activeElement !== input) input.value = String(value ?? "");
    };
    keep(this.source, this.model.get("source_prompt"));
    keep(this.prompt, this.model.get("prompt"));
    keep(this.guidance, this.model.get("guidance_scale"));
    for (const radio of this.controllers) radio.checked = radio.value === this.model.get("controller");
    const running = Boolean(this.model.get("running"));
    this.run.disabled = running;
    this.cancel.disabled = !running;
    const [done, total] = [Number(this.model.get("done")) || 0, Number(this.model.get("total")) || 0];
    this.progress.max = Math.max(total, 1);
    this.progress.value = Math.min(done, Math.max(total, 1));
    this.progress.title = `${done} / ${total}`;
    this.status.textContent = String(this.model.get("status") ?? "");
    this.error.textContent = String(this.model.get("error") ?? "");
  }
}
