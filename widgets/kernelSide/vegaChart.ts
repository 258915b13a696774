// The kernel side of the VegaChart widget: a vega-lite spec that the frontend view renders live
// (the view is in widgets/frontend/; the state contract in widgets/shared/widgetStates.ts).
import { WIDGETS, widgetIdentity, type VegaChartState } from "../shared/widgetStates";
import type { WidgetState } from "../comm/protocol";
import { WidgetModel, type WidgetModelOptions } from "../comm/widgetModel";
import type { VegaLiteSpec } from "../charts/chartSpec";

/** A live chart: display it in a cell, then `setSpec` to redraw it in place. */
export class VegaChart extends WidgetModel<VegaChartState & WidgetState> {
  constructor(spec: VegaLiteSpec, options: WidgetModelOptions = {}) {
    super({ ...widgetIdentity(WIDGETS.vegaChart), spec }, options);
  }

  /** Replace the chart's spec; the frontend redraws. */
  setSpec(spec: VegaLiteSpec): void {
    this.set("spec", spec);
  }
}
