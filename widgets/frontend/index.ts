// The `fatezero-widgets` frontend module: the models and views every host (classic notebook, JupyterLab,
// exported HTML) loads under the contract's names.
export { CrossAttentionViewerModel, CrossAttentionViewerView } from "./crossAttentionViewer";
export { EditPanelModel, EditPanelView } from "./editPanel";
export { FrameScrubberModel, FrameScrubberView } from "./frameScrubber";
export { MaskTunerModel, MaskTunerView } from "./maskTuner";
export { VegaChartModel, VegaChartView } from "./vegaChart";
