// Which attention layers FateZero controls and which feed its blend mask, stated once. A layer is controlled
// when its per-frame query count is within the limit (FateZero: 32², so the 64² layers of SD at 512 px are
// left alone). Controlled layers are numbered per place and kind as in FateZero's attention store
// (`down_cross`, `up_self`, …); the blend mask averages the cross-attention layers at down_cross[2:4] and
// up_cross[:3] of that store, whatever their resolution. The graph's fusion hook, the inversion's stored
// maps, the mask layers, the dry-run plan and the widgets' mask preview all read this list.
import type { FrameSelector } from "../models/frameLayout";
import { unetTransformers, type UnetShape } from "../models/unet";
import { CLIP_TOKENS } from "../tokenizer/clipTokenizer";

/** One attention call of a UNet pass. */
export interface AttentionLayer {
  /** Module name as in diffusers / FateZero, e.g. down_blocks.1.attentions.0.transformer_blocks.0.attn2. */
  module: string;
  place: "down" | "mid" | "up";
  level: number;
  kind: "self" | "cross";
  channels: number;
  heads: number;
  /** Latent size at this layer (per frame); query length = height · width. */
  height: number;
  width: number;
  queryLength: number;
  /** Keys per query: the selected frames' positions for self-attention, the text tokens for cross-attention. */
  keyLength: number;
  /** Frames the self-attention takes keys from; [] = the frame itself (below least_sc_channel, and for cross). */
  selectors: FrameSelector[];
  controlled: boolean;
  /** Position in FateZero's attention store (`down_cross`, …) among controlled layers, or null. */
  store: { key: string; index: number } | null;
  /** One of the cross layers the blend mask averages (`down_cross[2:4] + up_cross[:3]`). */
  maskSource: boolean;
}

/** How the UNet is inflated over frames. */
export interface FrameAttention {
  selectors: FrameSelector[];
  leastScChannel: number;
}

/** Whether FateZero's blend mask reads the stored layer at `store` (down_cross[2:4] + up_cross[:3]). */
function isMaskSource(store: { key: string; index: number }): boolean {
  return (store.key === "down_cross" && store.index >= 2 && store.index < 4) || (store.key === "up_cross" && store.index < 3);
}

/** Every attention layer of the UNet for a latent of [h, w], in forward order, with what FateZero does with it. */
export function attentionSites(unet: UnetShape, latent: [number, number], video: FrameAttention, queryLimit: number): AttentionLayer[] {
  const layers: AttentionLayer[] = [];
  const storeCounts = new Map<string, number>();
  for (const t of unetTransformers(unet)) {
    const [height, width] = [latent[0] >> t.level, latent[1] >> t.level];
    const queryLength = height * width;
    const controlled = queryLength <= queryLimit;
    const selectors = t.channels >= video.leastScChannel ? video.selectors : [];
    for (const kind of ["self", "cross"] as const) {
      let store: AttentionLayer["store"] = null;
      if (controlled) {
        const key = `${t.place}_${kind}`;
        const index = storeCounts.get(key) ?? 0;
        storeCounts.set(key, index + 1);
        store = { key, index };
      }
      layers.push({
        module: `${t.prefix}.transformer_blocks.0.${kind === "self" ? "attn1" : "attn2"}`,
        place: t.place,
        level: t.level,
        kind,
        channels: t.channels,
        heads: t.heads,
        height,
        width,
        queryLength,
        keyLength: kind === "cross" ? CLIP_TOKENS : queryLength * Math.max(selectors.length, 1),
        selectors: kind === "self" ? [...selectors] : [],
        controlled,
        store,
        maskSource: store !== null && kind === "cross" && isMaskSource(store),
      });
    }
  }
  return layers;
}

/** The largest controlled self-attention size [h, w]: the resolution of the blend mask the edit applies, if any. */
export function largestControlledSelfSize(layers: AttentionLayer[]): [number, number] | undefined {
  let best: AttentionLayer | undefined;
  for (const l of layers) if (l.kind === "self" && l.controlled && (!best || l.queryLength > best.queryLength)) best = l;
  return best && [best.height, best.width];
}
