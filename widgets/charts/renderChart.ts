// Charts rendered in Node, for static notebooks, nbconvert and saved figures: vega-lite compiles the spec
// to vega, vega's headless View (renderer "none") draws it to SVG, and sharp (librsvg) rasterises the SVG
// to PNG with the same DejaVu Sans the spec asks for.
import sharp from "sharp";
import { importEsm } from "./esmImport";
import type { VegaLiteSpec } from "./chartSpec";

// The small part of the vega and vega-lite APIs used here (both packages are ES modules loaded at run time).
interface VegaLiteModule {
  compile(spec: VegaLiteSpec): { spec: unknown };
}
interface VegaView {
  toSVG(scale?: number): Promise<string>;
  finalize(): void;
}
interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: "none" }) => VegaView;
}

/** Options of PNG rendering. */
export interface RenderOptions {
  /** Pixels per SVG unit (default 2, for sharp text on high-density screens). */
  scale?: number;
}

/** Render a vega-lite spec as SVG text. */
export async function renderChart(spec: VegaLiteSpec, format: "svg"): Promise<string>;
/** Render a vega-lite spec as PNG bytes (the SVG's size × scale). */
export async function renderChart(spec: VegaLiteSpec, format: "png", options?: RenderOptions): Promise<Buffer>;
export async function renderChart(spec: VegaLiteSpec, format: "svg" | "png", options: RenderOptions = {}): Promise<string | Buffer> {
  const svg = await chartSvg(spec);
  return format === "svg" ? svg : svgToPng(svg, options);
}

/** Rasterise a rendered chart's SVG to PNG bytes (the SVG's size × scale). */
export function svgToPng(svg: string, options: RenderOptions = {}): Promise<Buffer> {
  // librsvg renders 1 SVG unit as 1 px at 72 dpi.
  return sharp(Buffer.from(svg), { density: 72 * (options.scale ?? 2) })
    .png()
    .toBuffer();
}

async function chartSvg(spec: VegaLiteSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([importEsm<VegaModule>("vega"), importEsm<VegaLiteModule>("vega-lite")]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
