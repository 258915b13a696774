// Constants of the Jupyter widget message protocol 2.1 (ipywidgets 8, @jupyter-widgets/base 6) and of the
// control protocol 1.0, and the shapes of the comm data they exchange.

/** Version of the widget protocol sent in comm_open metadata. */
export const PROTOCOL_VERSION = "2.1.0";
/** Comm target of widget models (one comm per model). */
export const WIDGET_TARGET = "jupyter.widget";
/** Comm target through which a frontend fetches every model's state at once. */
export const CONTROL_TARGET = "jupyter.widget.control";
/** Mime type of a widget view in display_data / execute_result. */
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

/** A widget's state: JSON values, with binary values (ArrayBuffer, typed arrays, DataView) at any depth. */
export type WidgetState = Record<string, unknown>;

/** The six keys that tell the frontend which model and view classes to instantiate. */
export interface ModelIdentity {
  _model_name: string;
  _model_module: string;
  _model_module_version: string;
  _view_name: string | null;
  _view_module: string;
  _view_module_version: string;
}

/** The identity of `@jupyter-widgets/base`'s plain WidgetModel (no view). */
export const BASE_IDENTITY: ModelIdentity = {
  _model_name: "WidgetModel",
  _model_module: "@jupyter-widgets/base",
  _model_module_version: "2.0.0",
  _view_name: null,
  _view_module: "@jupyter-widgets/base",
  _view_module_version: "2.0.0",
};

/** The payload of a widget-view mime bundle entry. */
export interface WidgetViewData {
  version_major: 2;
  version_minor: 1;
  model_id: string;
}

/** One model in a control `update_states` reply (ipywidgets' layout). */
export interface ControlModelState {
  model_name: string;
  model_module: string;
  model_module_version: string;
  state: WidgetState;
}
