// Charts: vega-lite specs with inline data, their SVG/PNG rendering in Node, and their display in cells.
export { chartSpec, chartValues, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "./chartSpec";
export {
  attentionMass,
  attentionMassChart,
  type AttentionMassOptions,
  type AttentionMassRow,
  type MapChoice,
  type StepMaps,
} from "./attentionMassChart";
export { maskAreaChart, maskAreas, type MaskAreaOptions, type MaskAreaRow } from "./maskAreaChart";
export { reconstructionErrors, type ReconstructionErrorRow } from "./reconstructionError";
export { reconstructionErrorChart, type ErrorSeries } from "./reconstructionErrorChart";
export { stageTimeChart } from "./stageTimeChart";
export { StageTimer } from "./stageTimer";
export { frameChangeChart, frameChanges } from "./frameChangeChart";
export { renderChart, svgToPng, type RenderOptions } from "./renderChart";
export { chartImages, displayChart, type ChartImages } from "./displayChart";
export { benchRowLabel, worldBenchChart } from "./worldBenchChart";
