// How much of each frame the self-attention blending mask covers as its threshold moves: the curve a user
// reads to pick `blend_th` (too low: the edit's self-attention everywhere, the background drifts; too high:
// the source's everywhere, the shape cannot change).
import { normalisedBlendMap, thresholdBlendMap } from "../../src/fatezero/blendMask";
import type { InversionRecord } from "../../src/fatezero/inversionRecord";
import { chartSpec, type VegaLiteSpec } from "./chartSpec";

/** Options of the mask-area chart. */
export interface MaskAreaOptions {
  /** The editing step whose mask is shown (it uses the inversion maps of step N−1−editStep); default 0. */
  editStep?: number;
  /** Thresholds to evaluate; default 0, 0.05, …, 1. */
  thresholds?: number[];
  /** Mask size; default the mask maps' own size. */
  height?: number;
  width?: number;
  title?: string;
}

/** One data row: the mask at threshold `threshold` covers `area` (fraction) of frame `frame`. */
export interface MaskAreaRow {
  frame: number;
  threshold: number;
  area: number;
}

/** Mask area per frame and threshold for blend-word token weights `alpha` [T]. */
export function maskAreas(
  record: Pick<InversionRecord, "key" | "maskMaps">,
  alpha: Float32Array,
  options: MaskAreaOptions = {},
): MaskAreaRow[] {
  const mm = record.maskMaps;
  if (!mm) throw new Error("mask area: the inversion has no mask maps (no cross-attention layer within the query limit)");
  const N = mm.steps.length;
  const editStep = options.editStep ?? 0;
  if (!(editStep >= 0 && editStep < N)) throw new Error(`mask area: editStep ${editStep} is outside 0 … ${N - 1}`);
  const F = record.key.frameCount;
  const [H, W] = [options.height ?? mm.height, options.width ?? mm.width];
  const maps = { maps: mm.steps[N - 1 - editStep], frames: F, height: mm.height, width: mm.width, tokens: mm.tokens };
  // blendMask() thresholds this same normalised map; computing it once serves every threshold.
  const normalised = normalisedBlendMap(maps, alpha, H, W); // [F, H·W]
  const thresholds = options.thresholds ?? Array.from({ length: 21 }, (_, i) => i / 20);
  return thresholds.flatMap((threshold) =>
    thresholdBlendMap(normalised, F, threshold).areas.map((area, frame) => ({ frame, threshold, area })),
  );
}

/** Line chart of mask area (y) against threshold (x), one line per frame. */
export function maskAreaChart(
  record: Pick<InversionRecord, "key" | "maskMaps">,
  alpha: Float32Array,
  options: MaskAreaOptions = {},
): VegaLiteSpec {
  const values = maskAreas(record, alpha, options);
  return chartSpec(
    options.title ?? `Blend-mask area per frame vs threshold (editing step ${options.editStep ?? 0})`,
    values as unknown as Record<string, unknown>[],
    {
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "threshold", type: "quantitative", title: "threshold (blend_th)" },
        y: { field: "area", type: "quantitative", title: "fraction of the frame in the mask", scale: { domain: [0, 1] } },
        color: { field: "frame", type: "ordinal", title: "frame" },
        tooltip: [{ field: "frame" }, { field: "threshold" }, { field: "area", format: ".3f" }],
      },
    },
  );
}
