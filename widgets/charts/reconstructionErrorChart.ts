// The reconstruction-error curves of one or more denoising runs against the same inversion.
import { chartSpec, type VegaLiteSpec } from "./chartSpec";
import type { ReconstructionErrorRow } from "./reconstructionError";

/** One labelled curve (e.g. "guidance 1" and "guidance 7.5"). */
export interface ErrorSeries {
  label: string;
  errors: ReconstructionErrorRow[];
}

/** Line chart of relative L2 error (y) per denoising step (x), one line per series. */
export function reconstructionErrorChart(series: ErrorSeries[], title = "Reconstruction error against the DDIM inversion"): VegaLiteSpec {
  const values = series.flatMap((s) => s.errors.map((e) => ({ run: s.label, ...e })));
  return chartSpec(title, values, {
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "step", type: "quantitative", title: "denoising step", axis: { tickMinStep: 1 } },
      y: { field: "error", type: "quantitative", title: "relative L2 error ‖x − z‖ / ‖z‖" },
      color: { field: "run", type: "nominal", title: "run", sort: series.map((s) => s.label) },
      tooltip: [{ field: "run" }, { field: "step" }, { field: "level", title: "inverted latent z_i" }, { field: "error", format: ".4f" }],
    },
  });
}
