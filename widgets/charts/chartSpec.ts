// What every chart builder returns: a complete vega-lite spec with inline data, plus the shared look
// (DejaVu Sans, which is installed wherever the SVG is rasterised, so widths measured and drawn agree).

/** A vega-lite (v6) JSON spec. */
export type VegaLiteSpec = Record<string, unknown>;

/** The vega-lite schema the builders target. */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

const FONT = "DejaVu Sans";

/** Wrap a chart body with the schema, title, size, inline data and the shared font config. */
export function chartSpec(
  title: string,
  values: Record<string, unknown>[],
  body: VegaLiteSpec,
  size: { width?: number; height?: number } = {},
): VegaLiteSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    width: size.width ?? 420,
    height: size.height ?? 240,
    data: { values },
    ...body,
    config: { font: FONT, background: "white", view: { stroke: "#ddd" }, legend: { labelLimit: 360 } },
  };
}

/** The inline data rows of a spec made by `chartSpec`. */
export function chartValues(spec: VegaLiteSpec): Record<string, unknown>[] {
  const data = spec.data as { values?: Record<string, unknown>[] } | undefined;
  return data?.values ?? [];
}
