// The JupyterLab 4 plugin: registers this module with the widget manager of jupyterlab_widgets, which
// shares @jupyter-widgets/base with us (a singleton, not bundled; see widgets/build/bundle.ts).
import { IJupyterWidgetRegistry } from "@jupyter-widgets/base";
import { MODULE_NAME, MODULE_VERSION } from "../shared/widgetStates";
import * as widgets from "./index";

/** The subset of JupyterFrontEndPlugin this plugin needs (no @jupyterlab/application dependency). */
interface Plugin {
  id: string;
  requires: unknown[];
  autoStart: boolean;
  activate(app: unknown, registry: IJupyterWidgetRegistry): void;
}

const plugin: Plugin = {
  id: `${MODULE_NAME}:plugin`,
  requires: [IJupyterWidgetRegistry],
  autoStart: true,
  activate(_app, registry) {
    registry.registerWidget({ name: MODULE_NAME, version: MODULE_VERSION, exports: { ...widgets } });
  },
};

export default plugin;
