// CrossAttentionViewer: token chips, step / layer-group / average controls, and per frame the frame image
// with the selected token's cross-attention heat map drawn over it. The kernel computes `heatmap` for the
// selection; this view only sends the selection and draws what comes back, each frame on its own scale
// (the default, as FateZero's and prompt-to-prompt's viewers draw maps) or all on the absolute 0 … heat_max.
import { DOMWidgetModel, DOMWidgetView } from "@jupyter-widgets/base";
import { WIDGETS, type ClipFrames, widgetIdentity } from "../shared/widgetStates";
import { drawLegend, heatImage } from "./colormap";
import { bytes, h, perFrame, rangeInput } from "./dom";
import { FrameOverlays } from "./frameOverlays";
import { injectStyle } from "./style";

export class CrossAttentionViewerModel extends DOMWidgetModel {
  // The state, defaults included, comes from the kernel-side model; only the identity is known here.
  defaults() {
    return { ...super.defaults(), ...widgetIdentity(WIDGETS.crossAttentionViewer) };
  }
}

export class CrossAttentionViewerView extends DOMWidgetView {
  private chips = h("div", { cls: "fz-row" });
  private step = rangeInput("fz-step-slider", 0, 0, 1);
  private stepLabel = h("span", { cls: "fz-muted" });
  private group = h("select", { testid: "fz-group" });
  private average = h("input", { testid: "fz-average" });
  private frames = new FrameOverlays("fz-heatmap", "fz-mass");
  private scale = h("select", { testid: "fz-scale" });
  private legendMax = h("span", { cls: "fz-muted", testid: "fz-heat-max" });
  private saveStep = perFrame(() => this.model.save_changes());

  render(): void {
    injectStyle();
    this.el.classList.add("fz-widget");
    this.el.dataset.testid = "fz-viewer";
    this.average.type = "checkbox";
    const legend = h("canvas");
    drawLegend(legend);
    this.scale.append(
      Object.assign(h("option", { text: "each frame to its max" }), { value: "frame" }),
      Object.assign(h("option", { text: "absolute" }), { value: "absolute" }),
    );
    this.el.append(
      this.chips,
      h(
        "div",
        { cls: "fz-row" },
        h("span", { text: "step" }),
        this.step,
        this.stepLabel,
        h("label", {}, this.average, document.createTextNode(" average over steps")),
        h("span", { text: "layers" }),
        this.group,
        h("span", { text: "scale" }),
        this.scale,
      ),
      this.frames.element,
      h("div", { cls: "fz-legend" }, h("span", { cls: "fz-muted", text: "0" }), legend, this.legendMax),
    );

    this.step.addEventListener("input", () => {
      this.model.set("step", Number(this.step.value));
      this.stepLabel.textContent = `${Number(this.step.value) + 1} / ${this.model.get("steps")}`;
      this.saveStep();
    });
    this.group.addEventListener("change", () => this.save({ group: Number(this.group.value) }));
    this.average.addEventListener("change", () => this.save({ average_steps: this.average.checked }));
    this.scale.addEventListener("change", () => this.save({ scale: this.scale.value }));

    this.listenTo(this.model, "change:tokens change:token", () => this.renderChips());
    this.listenTo(this.model, "change:steps change:step change:average_steps change:groups change:group", () => this.renderControls());
    this.listenTo(this.model, "change:clip", () => this.loadClip());
    this.listenTo(
      this.model,
      "change:heatmap change:map_height change:map_width change:mass change:frame_max change:heat_max change:scale",
      () => this.draw(),
    );
    this.renderChips();
    this.renderControls();
    this.loadClip();
  }

  private save(changes: Record<string, unknown>): void {
    this.model.set(changes);
    this.model.save_changes();
  }

  private renderChips(): void {
    const tokens = (this.model.get("tokens") ?? []) as string[];
    const selected = Number(this.model.get("token"));
    this.chips.replaceChildren(
      ...tokens.map((token, i) => {
        const chip = h("button", { cls: i === selected ? "fz-chip fz-selected" : "fz-chip", testid: `fz-token-${i}`, text: token });
        chip.setAttribute("aria-pressed", String(i === selected));
        chip.addEventListener("click", () => this.save({ token: i }));
        return chip;
      }),
    );
  }

  private renderControls(): void {
    const steps = Math.max(1, Number(this.model.get("steps")) || 1);
    const averaged = Boolean(this.model.get("average_steps"));
    this.step.max = String(steps - 1);
    this.step.value = String(this.model.get("step"));
    this.step.disabled = averaged;
    this.stepLabel.textContent = averaged ? "all steps" : `${Number(this.model.get("step")) + 1} / ${steps}`;
    this.average.checked = averaged;
    const groups = (this.model.get("groups") ?? []) as string[];
    if (this.group.options.length !== groups.length || groups.some((g, i) => this.group.options[i].text !== g)) {
      this.group.replaceChildren(...groups.map((g, i) => Object.assign(h("option", { text: g }), { value: String(i) })));
    }
    this.group.value = String(this.model.get("group"));
  }

  private loadClip(): void {
    this.frames.setClip(this.model.get("clip") as ClipFrames);
    this.draw();
  }

  private draw(): void {
    const map = bytes(this.model.get("heatmap"));
    const [mh, mw] = [Number(this.model.get("map_height")), Number(this.model.get("map_width"))];
    const mass = (this.model.get("mass") ?? []) as number[];
    const frameMax = (this.model.get("frame_max") ?? []) as number[];
    const heatMax = Number(this.model.get("heat_max"));
    const absolute = this.model.get("scale") === "absolute";
    this.scale.value = absolute ? "absolute" : "frame";
    this.legendMax.textContent = absolute ? heatMax.toPrecision(3) : "each frame's max";
    // The kernel scales each frame to its own maximum; the absolute scale shrinks frame f by its share of the clip's.
    const gain = (f: number) => (absolute && heatMax > 0 ? (frameMax[f] ?? heatMax) / heatMax : 1);
    this.frames.draw({
      count: mh * mw > 0 ? Math.floor(map.length / (mh * mw)) : 0,
      width: mw,
      height: mh,
      image: (f) => heatImage(map, f, mw, mh, gain(f)),
      caption: (f) => (mass[f] === undefined ? "" : `mass ${mass[f].toFixed(4)}`),
    });
  }
}
