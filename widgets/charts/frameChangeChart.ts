// Frame-to-frame change of clips: mean absolute pixel difference between consecutive frames. A rough,
// CLIP-free view of temporal consistency (flicker raises it); it is not the paper's Tem-Con metric.
import type { VideoClip } from "../../src/video/readVideo";
import { chartSpec, type VegaLiteSpec } from "./chartSpec";

/** Mean |frame f+1 − frame f| over pixels and channels, in 0 … 255, for each f. */
export function frameChanges(clip: VideoClip): number[] {
  const plane = clip.height * clip.width * 3;
  return Array.from({ length: clip.count - 1 }, (_, f) => {
    let s = 0;
    for (let i = 0; i < plane; i++) s += Math.abs(clip.frames[(f + 1) * plane + i] - clip.frames[f * plane + i]);
    return s / plane;
  });
}

/** Line chart of frame-to-frame change (y) per frame pair (x), one line per labelled clip. */
export function frameChangeChart(clips: { label: string; clip: VideoClip }[], title = "Frame-to-frame change"): VegaLiteSpec {
  const values = clips.flatMap(({ label, clip }) =>
    frameChanges(clip).map((change, f) => ({ clip: label, pair: `${f}→${f + 1}`, frame: f, change })),
  );
  return chartSpec(title, values, {
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "frame", type: "quantitative", title: "frame pair f → f+1", axis: { tickMinStep: 1 } },
      y: { field: "change", type: "quantitative", title: "mean |Δ pixel| (0–255)" },
      color: { field: "clip", type: "nominal", title: "clip", sort: clips.map((c) => c.label) },
      tooltip: [{ field: "clip" }, { field: "pair" }, { field: "change", format: ".2f" }],
    },
  });
}
