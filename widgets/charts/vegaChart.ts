// The kernel side of the VegaChart widget: a vega-lite spec that the frontend view renders live
// (the view is in widgets/frontend/; the state contract in widgets/shared/widgetStates.ts).
import { MODULE_NAME, MODULE_VERSION, WIDGETS, type VegaChartState } from "../shared/widgetStates";
import { WidgetModel, type WidgetModelOptions } from "../kernel/widgetModel";
import type { VegaLiteSpec } from "./chartSpec";

/** A live chart: display it in a cell, then `setSpec` to redraw it in place. */
export class VegaChart extends WidgetModel<VegaChartState & Record<string, unknown>> {
  constructor(spec: VegaLiteSpec, options: WidgetModelOptions = {}) {
    super(
      {
        _model_name: WIDGETS.vegaChart.model,
        _model_module: MODULE_NAME,
        _model_module_version: MODULE_VERSION,
        _view_name: WIDGETS.vegaChart.view,
        _view_module: MODULE_NAME,
        _view_module_version: MODULE_VERSION,
        spec,
      },
      options,
    );
  }

  /** Replace the chart's spec; the frontend redraws. */
  setSpec(spec: VegaLiteSpec): void {
    this.set("spec", spec);
  }
}
