// VegaChart: a vega-lite spec compiled and rendered with vega's SVG renderer (SVG keeps charts crisp and
// lets tests and exported HTML inspect them).
import { DOMWidgetModel, DOMWidgetView } from "@jupyter-widgets/base";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { WIDGETS, widgetIdentity } from "../shared/widgetStates";
import { bumpVersion, h } from "./dom";
import { injectStyle } from "./style";

export class VegaChartModel extends DOMWidgetModel {
  // The state, defaults included, comes from the kernel-side model; only the identity is known here.
  defaults() {
    return { ...super.defaults(), ...widgetIdentity(WIDGETS.vegaChart) };
  }
}

export class VegaChartView extends DOMWidgetView {
  private chart = h("div", { testid: "fz-chart" });
  private error = h("div", { cls: "fz-error", testid: "fz-chart-error" });
  private view: View | undefined;

  render(): void {
    injectStyle();
    this.el.classList.add("fz-widget");
    this.el.append(this.chart, this.error);
    this.listenTo(this.model, "change:spec", () => void this.draw());
    void this.draw();
  }

  remove(): void {
    this.view?.finalize();
    return super.remove();
  }

  private async draw(): Promise<void> {
    this.view?.finalize();
    this.view = undefined;
    this.error.textContent = "";
    try {
      const spec = this.model.get("spec") as TopLevelSpec;
      if (!spec || Object.keys(spec).length === 0) {
        this.chart.replaceChildren();
      } else {
        this.view = new View(parse(compile(spec).spec), { renderer: "svg", container: this.chart, hover: true });
        await this.view.runAsync();
      }
    } catch (err) {
      this.error.textContent = `chart: ${(err as Error).message}`;
    }
    bumpVersion(this.chart);
  }
}
