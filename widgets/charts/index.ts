// Charts (vega-lite specs with inline data), their SVG/PNG rendering and display, the VegaChart widget, and
// the figure helpers the notebooks use.
export { chartSpec, chartValues, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "./chartSpec";
export { attentionMass, attentionMassChart, type AttentionMassOptions, type AttentionMassRow, type MapChoice, type StepMaps } from "./attentionMassChart";
export { maskAreaChart, maskAreas, type MaskAreaOptions, type MaskAreaRow } from "./maskAreaChart";
export { reconstructionErrors, type ReconstructionErrorRow } from "./reconstructionError";
export { reconstructionErrorChart, type ErrorSeries } from "./reconstructionErrorChart";
export { stageTimeChart } from "./stageTimeChart";
export { StageTimer } from "./stageTimer";
export { frameChangeChart, frameChanges } from "./frameChangeChart";
export { renderChart, type RenderOptions } from "./renderChart";
export { chartImages, displayChart, type ChartImages } from "./displayChart";
export { figurePath, figuresDir, saveFigure } from "./figures";
export { showChart, showImage } from "./showFigure";
export { filmstripPng, type FilmstripOptions, type FilmstripRow } from "./filmstrip";
export { heatmapClip, type HeatmapOptions } from "./heatmapClip";
export { tokenMap } from "./tokenMaps";
export { tokenLabels } from "./tokenLabels";
export { blendWordAlpha, wordPositions } from "./blendWordAlpha";
export { denoisingMaps, type DenoisingMaps } from "./denoisingMaps";
export { latentSelfAttention, type LatentQuery } from "./latentSelfAttention";
export { notebookClip, notebookInputs, type NotebookInputs } from "./notebookInputs";
