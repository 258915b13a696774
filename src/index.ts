// The public API: every pipeline stage as a function (video → latents → inversion → edit → frames).
export { loadModel, encodePrompts, type FateZeroModel, type LoadModelOptions } from "./fatezero/loadModel";
export { readVideo, type VideoClip, type VideoReadOptions } from "./video/readVideo";
export { makeSampleClip } from "./world/sampleClip";
export { writeMp4, writeGif, writeFrames, writeGrid, makeGrid, encodeMp4 } from "./video/writeVideo";
export { invertVideo, type InversionRequest, type InversionOptions } from "./fatezero/invertVideo";
export { InversionCache } from "./fatezero/inversionCache";
export { inversionLatent, type InversionRecord, type InversionKey, type LatentVideo, type LatentShape } from "./fatezero/inversionRecord";
export { editVideo, type EditOptions, type EditResult } from "./fatezero/editVideo";
export { decodeVideo } from "./fatezero/decodeVideo";
export { blendMask } from "./fatezero/blendMask";
export { controllerTensors } from "./fatezero/controllerTensors";
export { DEFAULT_P2P, DEFAULT_EDIT_LOOP, type EditSpec, type P2pOptions, type EditLoopOptions } from "./fatezero/editOptions";
export { loadFatezeroConfig } from "./config/fatezeroConfig";
export { resolveEditPlan } from "./config/editPlan";
export { runEditPlan } from "./pipeline/runEditPlan";
export { tokenLabels } from "./tokenizer/tokenLabels";
export { blendWordAlpha, wordPositions } from "./fatezero/blendWordAlpha";
export { denoisingMaps, type DenoisingMaps } from "./fatezero/denoisingMaps";
