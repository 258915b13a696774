// The six identity keys every model of this module carries, from the shared contract.
import { MODULE_NAME, MODULE_VERSION, type WidgetNames } from "../shared/widgetStates";

/** Model/view names, module and version of one widget, as model defaults. */
export function identity(names: WidgetNames): Record<string, string> {
  return {
    _model_name: names.model,
    _model_module: MODULE_NAME,
    _model_module_version: MODULE_VERSION,
    _view_name: names.view,
    _view_module: MODULE_NAME,
    _view_module_version: MODULE_VERSION,
  };
}
