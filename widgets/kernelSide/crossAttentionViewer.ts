// Kernel side of the CrossAttentionViewer: the cached inversion's per-group cross-attention maps, one token
// at a time. The frontend picks token, step, group and averaging; the kernel answers with a uint8 heat map.
import { z } from "zod";
import type { InversionRecord, MapGroup } from "../../src/fatezero/inversionRecord";
import type { ClipTokenizer } from "../../src/tokenizer/clipTokenizer";
import type { VideoClip } from "../../src/video/readVideo";
import type { WidgetState } from "../comm/protocol";
import { indexBelow, WidgetModel, type FrontendKeys, type WidgetModelOptions } from "../comm/widgetModel";
import { HEAT_SCALES, type HeatScale, WIDGETS, type CrossAttentionViewerState, widgetIdentity } from "../shared/widgetStates";
import { tokenLabels } from "../../src/tokenizer/tokenLabels";
import { clipImages, type ClipImageOptions } from "./clipImages";
import { tokenHeatmap, type GroupMaps } from "./tokenHeatmap";

/** Options of a viewer. */
export interface CrossAttentionViewerOptions extends WidgetModelOptions {
  image?: ClipImageOptions;
  /** Initially selected token position (default 1, the prompt's first token). */
  token?: number;
  /** How the maps are coloured (default "frame": each frame to its own maximum). */
  scale?: HeatScale;
}

/** A group's label, e.g. "up 16×16 · 3 layers". */
export function groupLabel(g: MapGroup): string {
  return `${g.place} ${g.height}×${g.width} · ${g.layers} layer${g.layers === 1 ? "" : "s"}`;
}

/** What a view may set: the selection. */
const FRONTEND_KEYS: FrontendKeys<CrossAttentionViewerState> = (s) => ({
  token: indexBelow(s.tokens.length),
  step: indexBelow(s.steps),
  group: indexBelow(s.groups.length),
  average_steps: z.boolean(),
  scale: z.enum(HEAT_SCALES),
});

/** Per-token cross-attention maps of a cached inversion over its frames. */
export class CrossAttentionViewer extends WidgetModel<CrossAttentionViewerState & WidgetState> {
  private inversion!: InversionRecord;

  /** Open a viewer of `inversion`'s maps over `clip` (the inverted frames). */
  static async create(
    inversion: InversionRecord,
    tokenizer: Pick<ClipTokenizer, "tokenize" | "decode">,
    clip: VideoClip,
    options: CrossAttentionViewerOptions = {},
  ): Promise<CrossAttentionViewer> {
    if (inversion.groups.length === 0) throw new Error("this inversion stored no cross-attention maps (no layer within its query limit)");
    const tokens = tokenLabels(tokenizer, inversion.key.prompt).slice(0, inversion.tokens);
    const group = largestGroup(inversion);
    const token = Math.min(options.token ?? 1, tokens.length - 1);
    const selection = select(inversion, group, token, 0, true);
    const viewer = new CrossAttentionViewer(
      {
        ...widgetIdentity(WIDGETS.crossAttentionViewer),
        tokens,
        token,
        steps: inversion.key.steps,
        step: 0,
        average_steps: true,
        scale: options.scale ?? "frame",
        groups: inversion.groups.map((g) => groupLabel(g.group)),
        group,
        clip: await clipImages(clip, options.image),
        ...selection,
      },
      { ...options, noEcho: ["heatmap", "clip", ...(options.noEcho ?? [])], frontendKeys: FRONTEND_KEYS },
    );
    viewer.inversion = inversion;
    for (const key of ["token", "step", "group", "average_steps"] as const) viewer.onChange(key, () => viewer.refresh());
    return viewer;
  }

  /** Recompute the heat map of the current selection (runs on every selection change). */
  refresh(): void {
    const s = this.state();
    const group = clamp(s.group, 0, this.inversion.groups.length - 1);
    const token = clamp(s.token, 0, s.tokens.length - 1);
    const step = clamp(s.step, 0, s.steps - 1);
    this.update({ group, token, step, ...select(this.inversion, group, token, step, s.average_steps) });
  }
}

function select(inv: InversionRecord, group: number, token: number, step: number, average: boolean) {
  const { group: g, steps } = inv.groups[group];
  const maps: GroupMaps = { steps, frames: inv.key.frameCount, height: g.height, width: g.width, tokens: inv.tokens };
  const h = tokenHeatmap(maps, token, average ? "average" : step);
  return { heatmap: h.heatmap, map_height: g.height, map_width: g.width, frame_max: h.frameMax, heat_max: h.max, mass: h.mass };
}

function largestGroup(inv: InversionRecord): number {
  let best = 0;
  inv.groups.forEach((g, i) => {
    const b = inv.groups[best].group;
    if (g.group.height * g.group.width > b.height * b.width) best = i;
  });
  return best;
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : lo;
}
