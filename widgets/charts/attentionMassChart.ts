// Attention mass per prompt token over the inversion steps: how much of the cross-attention each token
// receives, averaged over frames and positions. It shows which words the maps (and so the blend masks)
// are about, and how that drifts as the latent gets noisier.
import type { InversionRecord } from "../../src/fatezero/inversionRecord";
import { chartSpec, type VegaLiteSpec } from "./chartSpec";

/** Cross-attention maps per step as an inversion keeps them (or `denoisingMaps` replays them). */
export type StepMaps = Pick<InversionRecord, "groups" | "tokens" | "maskMaps">;

/** Which maps to average: FateZero's mask layers, every group (weighted by heads), or one group by index. */
export type MapChoice = "mask" | "all" | number;

/** Options of the attention-mass chart. */
export interface AttentionMassOptions {
  layers?: MapChoice;
  /** Token positions to plot; default all but position 0 (the start token soaks up most of the mass). */
  positions?: number[];
  title?: string;
}

/** One data row: token `position` (labelled `token`) received `mass` at inversion step `step`. */
export interface AttentionMassRow {
  step: number;
  position: number;
  token: string;
  mass: number;
}

/** Maps of the chosen layers, each [F, L, T] per step, with their weight in the average. */
function chosenMaps(maps: StepMaps, layers: MapChoice): { steps: Float32Array[]; tokens: number; weight: number }[] {
  if (layers === "mask") {
    if (!maps.maskMaps)
      throw new Error("attention mass: these maps have no mask-layer maps (no cross-attention layer within the query limit)");
    return [{ steps: maps.maskMaps.steps, tokens: maps.maskMaps.tokens, weight: 1 }];
  }
  const groups = layers === "all" ? maps.groups : [maps.groups[layers]];
  if (groups.some((g) => g === undefined)) throw new Error(`attention mass: no layer group ${layers} (there are ${maps.groups.length})`);
  return groups.map((g) => ({ steps: g.steps, tokens: maps.tokens, weight: g.group.heads }));
}

/** Mean attention per token position and step: mass[step][position]. */
export function attentionMass(maps: StepMaps, layers: MapChoice = "all"): number[][] {
  const chosen = chosenMaps(maps, layers);
  const total = chosen.reduce((a, c) => a + c.weight, 0);
  const steps = chosen[0]?.steps.length ?? 0;
  return Array.from({ length: steps }, (_, k) => {
    const mass = new Array<number>(maps.tokens).fill(0);
    for (const c of chosen) {
      const m = c.steps[k]; // [F, L, T]
      const rows = m.length / c.tokens;
      for (let r = 0; r < rows; r++) for (let t = 0; t < maps.tokens; t++) mass[t] += (m[r * c.tokens + t] * c.weight) / (rows * total);
    }
    return mass;
  });
}

/** Line chart of attention mass per token (colour) over inversion steps (x). */
export function attentionMassChart(maps: StepMaps, tokens: string[], options: AttentionMassOptions = {}): VegaLiteSpec {
  const mass = attentionMass(maps, options.layers ?? "all");
  const positions = options.positions ?? Array.from({ length: Math.min(tokens.length, maps.tokens) - 1 }, (_, i) => i + 1);
  const values: AttentionMassRow[] = mass.flatMap((row, step) =>
    positions.map((p) => ({ step, position: p, token: `${p}: ${tokens[p] ?? "?"}`, mass: row[p] })),
  );
  const order = positions.map((p) => `${p}: ${tokens[p] ?? "?"}`);
  return chartSpec(options.title ?? "Cross-attention mass per token over inversion steps", values as unknown as Record<string, unknown>[], {
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "step", type: "quantitative", title: "inversion step (0 = clean)", axis: { tickMinStep: 1 } },
      y: { field: "mass", type: "quantitative", title: "mean attention probability" },
      color: { field: "token", type: "nominal", title: "token", sort: order },
      tooltip: [{ field: "token" }, { field: "step" }, { field: "mass", format: ".4f" }],
    },
  });
}
