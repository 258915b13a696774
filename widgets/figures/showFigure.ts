// A notebook figure in one call: saved into the figures folder and displayed in the cell's output.
import { displayImage, type ImageOptions } from "../../kernel/kernelContext";
import type { VegaLiteSpec } from "../charts/chartSpec";
import { chartImages, displayChart } from "../charts/displayChart";
import { saveFigure } from "./figures";

/** Render a chart, save it as `<name>.svg` and `<name>.png`, and display it; returns the two paths. */
export async function showChart(name: string, spec: VegaLiteSpec): Promise<string[]> {
  const images = await chartImages(spec);
  const files = [saveFigure(`${name}.svg`, images.svg), saveFigure(`${name}.png`, images.png)];
  await displayChart(spec, images);
  return files;
}

/** Save PNG bytes as `<name>.png` and display them; returns the path. */
export function showImage(name: string, png: Uint8Array, options: ImageOptions = {}): string {
  const file = saveFigure(`${name}.png`, png);
  displayImage(png, options);
  return file;
}
