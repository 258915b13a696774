// The world benchmark's ablation rows as bars: each part of FateZero removed in turn, scored against the
// ground truth. One panel per metric, since PSNRs (dB) and shares (0–1) do not share an axis.
import type { BenchRow } from "../../src/pipeline/worldBench";
import { chartSpec, type VegaLiteSpec } from "./chartSpec";

/** A row's name: the edit, or which part of FateZero the ablation removes. */
export function benchRowLabel(r: BenchRow): string {
  if (r.attention === "reconstruction") return "reconstruction attention";
  if (r.attention === "none") return "no attention fusion";
  if (!r.blendMask) return "no blend mask";
  if (!r.spatialTemporal) return "per-frame attention";
  return r.edit === "attribute" ? "FateZero" : r.edit;
}

/** Bars of `metrics` (e.g. backgroundPsnr, maskIou) for the attribute edit and its ablations. */
export function worldBenchChart(
  rows: BenchRow[],
  metrics: (keyof BenchRow)[] = ["backgroundPsnr", "targetPsnr", "colorAccuracy", "flickerRatio"],
  title = "Attribute edit and its ablations (world benchmark)",
): VegaLiteSpec {
  const attribute = rows.filter((r) => r.edit === "attribute");
  const order = attribute.map(benchRowLabel);
  const values = attribute.flatMap((r) =>
    metrics.filter((m) => typeof r[m] === "number").map((m) => ({ variant: benchRowLabel(r), metric: m, value: r[m] as number })),
  );
  // A faceted chart sizes each panel instead of the whole.
  const { width: _width, height: _height, ...base } = chartSpec(title, values, {});
  return {
    ...base,
    facet: { column: { field: "metric", type: "nominal", title: null, sort: metrics } },
    spec: {
      width: 150,
      height: 200,
      mark: "bar",
      encoding: {
        x: { field: "variant", type: "nominal", title: null, sort: order, axis: { labelAngle: -40 } },
        y: { field: "value", type: "quantitative", title: null },
        color: { field: "variant", type: "nominal", sort: order, legend: null },
        tooltip: [{ field: "variant" }, { field: "metric" }, { field: "value", format: ".3f" }],
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}
