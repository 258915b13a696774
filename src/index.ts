// The public API: every pipeline stage as a function (video → latents → inversion → edit → frames).
export { loadModel, encodePrompts, type FateZeroModel, type LoadModelOptions } from "./pipeline/loadModel";
export { readVideo, type VideoClip, type VideoReadOptions } from "./video/readVideo";
export { makeSampleClip } from "./video/sampleClip";
export { writeMp4, writeGif, writeFrames, writeGrid, makeGrid, encodeMp4 } from "./video/writeVideo";
export { invertVideo, type InversionRequest, type InversionOptions } from "./inversion/invertVideo";
export { InversionCache } from "./inversion/inversionCache";
export type { InversionRecord, InversionKey } from "./inversion/inversionRecord";
export { editVideo, type EditOptions, type EditResult } from "./pipeline/editVideo";
export { decodeVideo } from "./pipeline/decodeVideo";
export { blendMask } from "./attentionControl/blendMask";
export { controllerTensors } from "./attentionControl/controllerTensors";
export { DEFAULT_P2P, DEFAULT_EDIT_LOOP, type EditSpec, type P2pOptions, type EditLoopOptions } from "./pipeline/editOptions";
export { loadFatezeroConfig } from "./config/fatezeroConfig";
export { resolveEditPlan } from "./config/editPlan";
export { runEditPlan } from "./pipeline/runEditPlan";
export { tokenLabels } from "./tokenizer/tokenLabels";
export { blendWordAlpha, wordPositions } from "./attentionControl/blendWordAlpha";
export { denoisingMaps, type DenoisingMaps } from "./inversion/denoisingMaps";
