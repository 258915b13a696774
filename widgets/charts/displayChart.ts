// Showing a chart in a cell's output as static images: image/svg+xml for notebooks and HTML exports, and
// image/png for viewers that do not render SVG. (The live, interactive form is the VegaChart widget.)
import { display, type DisplayHandle } from "../../kernel/kernelContext";
import type { VegaLiteSpec } from "./chartSpec";
import { renderChart, svgToPng } from "./renderChart";

/** The two renderings of a chart. */
export interface ChartImages {
  svg: string;
  png: Buffer;
}

/** Render a spec as SVG and PNG (the PNG rasterises that same SVG: the chart is laid out once). */
export async function chartImages(spec: VegaLiteSpec): Promise<ChartImages> {
  const svg = await renderChart(spec, "svg");
  return { svg, png: await svgToPng(svg) };
}

/** Display a chart (display_data with image/svg+xml and image/png); returns the images too. */
export async function displayChart(spec: VegaLiteSpec, images?: ChartImages): Promise<ChartImages & { handle: DisplayHandle }> {
  const { svg, png } = images ?? (await chartImages(spec));
  const title = typeof spec.title === "string" ? spec.title : "chart";
  // The PNG is rendered at 2× for sharpness; show it at the SVG's size.
  const width = Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)?.[1]);
  const metadata = Number.isFinite(width) ? { "image/png": { width } } : {};
  const handle = display({ "image/svg+xml": svg, "image/png": png.toString("base64"), "text/plain": `<chart: ${title}>` }, { metadata });
  return { svg, png, handle };
}
