// Seconds spent per pipeline stage (load, encode, invert, edit, decode, …), as a bar chart.
import { chartSpec, type VegaLiteSpec } from "./chartSpec";

/** Horizontal bars of seconds per stage, in the order given. */
export function stageTimeChart(seconds: Record<string, number>, title = "Time per pipeline stage"): VegaLiteSpec {
  const values = Object.entries(seconds).map(([stage, s]) => ({ stage, seconds: s }));
  return chartSpec(
    title,
    values,
    {
      mark: "bar",
      encoding: {
        y: { field: "stage", type: "nominal", title: "stage", sort: values.map((v) => v.stage) },
        x: { field: "seconds", type: "quantitative", title: "seconds" },
        tooltip: [{ field: "stage" }, { field: "seconds", format: ".2f" }],
      },
    },
    { height: Math.max(60, 28 * values.length) },
  );
}
