// The FateZero widgets' kernel-side models.
export { clipImages, type ClipImageOptions } from "./clipImages";
export { CrossAttentionViewer, groupLabel, type CrossAttentionViewerOptions } from "./crossAttentionViewer";
export { EditPanel, type EditPanelOptions, type RunProgress, type RunTask } from "./editPanel";
export { EditStudio, targetBlendWords, type EditStudioOptions } from "./editStudio";
export { FrameScrubber, type FrameScrubberOptions, type LabelledClip } from "./frameScrubber";
export { controlledMaskSize, MaskPreviewer, type MaskPreview } from "./maskPreview";
export { MaskTuner, type MaskTunerOptions, type TunedP2p } from "./maskTuner";
export { tokenHeatmap, tokenAttention, tokenMap, type GroupMaps, type TokenHeatmap } from "./tokenHeatmap";
export { VegaChart } from "./vegaChart";
