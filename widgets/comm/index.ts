// Kernel-side Jupyter widgets (protocol 2.1): the model base class and what the kernel installs.
export { isBinary, putBuffers, removeBuffers, type BinaryValue, type BufferPath, type SplitState } from "./bufferPaths";
export { defaultCommManager } from "./defaultComms";
export {
  BASE_IDENTITY,
  CONTROL_TARGET,
  PROTOCOL_VERSION,
  WIDGET_TARGET,
  WIDGET_VIEW_MIME,
  type ModelIdentity,
  type WidgetState,
  type WidgetViewData,
} from "./protocol";
export {
  installWidgets,
  WidgetModel,
  type ChangeListener,
  type ChangeSource,
  type CustomListener,
  type FullState,
  type WidgetModelOptions,
} from "./widgetModel";
