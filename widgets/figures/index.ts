// What the notebooks draw with besides charts: their inputs from the environment, the figures folder, and
// still images of clips and attention maps.
export { figurePath, figuresDir, saveFigure } from "./figures";
export { showChart, showImage } from "./showFigure";
export { filmstripPng, type FilmstripOptions, type FilmstripRow } from "./filmstrip";
export { heatmapClip, type HeatmapOptions } from "./heatmapClip";
export { latentSelfAttention, type LatentQuery } from "./latentSelfAttention";
export { notebookClip, notebookInputs, type NotebookInputs } from "./notebookInputs";
