// The six identity keys that make the frontend instantiate one of our model/view classes.
import type { ModelIdentity } from "../kernel/protocol";
import { MODULE_NAME, MODULE_VERSION, type WidgetNames } from "../shared/widgetStates";

/** Identity keys of a `fatezero-widgets` model and view. */
export function widgetIdentity(names: WidgetNames): ModelIdentity {
  return {
    _model_name: names.model,
    _model_module: MODULE_NAME,
    _model_module_version: MODULE_VERSION,
    _view_name: names.view,
    _view_module: MODULE_NAME,
    _view_module_version: MODULE_VERSION,
  };
}
