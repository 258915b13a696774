// Which attention layers FateZero controls and which feed its blend mask, stated once. The UNet lists its
// attention sites (unetAttentionSites); this file annotates them. A layer is controlled when its per-frame
// query count is within the limit (FateZero: 32², so the 64² layers of SD at 512 px are left alone).
// Controlled layers are numbered per place and kind as in FateZero's attention store (`down_cross`,
// `up_self`, …); the blend mask averages the cross-attention layers at down_cross[2:4] and up_cross[:3] of
// that store, whatever their resolution. The graph's fusion hook, the inversion's stored maps, the mask
// layers, the dry-run plan, the memory estimate and the widgets' mask preview all read this list.
import { parseSelectors, type FrameSelector } from "../networks/frameLayout";
import { unetAttentionSites, type UnetShape } from "../networks/unet";
import type { AttentionSite } from "../networks/unetTransformer";
import { CLIP_TOKENS } from "../tokenizer/clipTokenizer";
import { CONTROL_QUERY_LIMIT, DEFAULT_INFLATION } from "./editOptions";
import type { InversionKey } from "./inversionRecord";

/** What a fused UNet is built for: the latent size, the inflation over frames, and the controlled layers' query limit. */
export interface UnetBuild {
  latentSize: [number, number];
  /** Key frames of sparse-causal self-attention, in blocks with at least leastScChannel channels. */
  selectors: FrameSelector[];
  leastScChannel: number;
  /** Layers with at most this many queries per frame are controlled. */
  queryLimit: number;
}

/** An attention layer of the UNet (its site, sized) and what FateZero does with it. */
export interface AttentionLayer extends AttentionSite {
  height: number;
  width: number;
  /** Queries per frame: height · width. */
  queryLength: number;
  /** Keys per query: the selected frames' positions for self-attention, the text tokens for cross-attention. */
  keyLength: number;
  controlled: boolean;
  /** Position in FateZero's attention store (`down_cross`, …) among controlled layers, or null. */
  store: { key: string; index: number } | null;
  /** One of the cross layers the blend mask averages (`down_cross[2:4] + up_cross[:3]`). */
  maskSource: boolean;
}

/** FateZero's build for a latent size: its default inflation and query limit. */
export function defaultUnetBuild(latentSize: [number, number]): UnetBuild {
  return {
    latentSize,
    selectors: [...DEFAULT_INFLATION.selectors],
    leastScChannel: DEFAULT_INFLATION.leastScChannel,
    queryLimit: CONTROL_QUERY_LIMIT,
  };
}

/** The build an inversion was made with, for a VAE that scales frames down by `vaeFactor`; its edits and replays use the same. */
export function inversionBuild(key: InversionKey, vaeFactor: number): UnetBuild {
  return {
    latentSize: [key.height / vaeFactor, key.width / vaeFactor],
    selectors: parseSelectors(key.unet.selectors),
    leastScChannel: key.unet.leastScChannel,
    queryLimit: key.queryLimit,
  };
}

/** Whether FateZero's blend mask reads the stored layer at `store` (down_cross[2:4] + up_cross[:3]). */
function isMaskSource(store: { key: string; index: number }): boolean {
  return (store.key === "down_cross" && store.index >= 2 && store.index < 4) || (store.key === "up_cross" && store.index < 3);
}

/** Every attention layer of the UNet for this build, in forward order, with what FateZero does with it. */
export function attentionSites(unet: UnetShape, build: UnetBuild): AttentionLayer[] {
  const storeCounts = new Map<string, number>();
  return unetAttentionSites(unet, build.latentSize, build).map((site): AttentionLayer => {
    const [height, width] = [site.height!, site.width!];
    const queryLength = height * width;
    const controlled = queryLength <= build.queryLimit;
    let store: AttentionLayer["store"] = null;
    if (controlled) {
      const key = `${site.place}_${site.kind}`;
      const index = storeCounts.get(key) ?? 0;
      storeCounts.set(key, index + 1);
      store = { key, index };
    }
    // Listed in the order the dry run has always printed them.
    return {
      module: site.module,
      place: site.place,
      level: site.level,
      kind: site.kind,
      channels: site.channels,
      heads: site.heads,
      height,
      width,
      queryLength,
      keyLength: site.kind === "cross" ? CLIP_TOKENS : queryLength * Math.max(site.selectors.length, 1),
      selectors: site.selectors,
      controlled,
      store,
      maskSource: store !== null && site.kind === "cross" && isMaskSource(store),
    };
  });
}

/** The layers whose head-averaged maps an inversion stores: the controlled cross-attention layers, in forward order. */
export function storedLayers(layers: readonly AttentionLayer[]): AttentionLayer[] {
  return layers.filter((l) => l.controlled && l.kind === "cross");
}

/** The stored layers the blend mask averages. */
export function maskLayers(layers: readonly AttentionLayer[]): AttentionLayer[] {
  return layers.filter((l) => l.maskSource);
}

/** The distinct sizes [h, w] of the controlled self-attention layers, in forward order: one blend-mask input each. */
export function controlledSelfSizes(layers: readonly AttentionLayer[]): [number, number][] {
  const sizes: [number, number][] = [];
  for (const l of layers)
    if (l.controlled && l.kind === "self" && !sizes.some(([h, w]) => h === l.height && w === l.width)) sizes.push([l.height, l.width]);
  return sizes;
}

/** The largest controlled self-attention size [h, w]: the resolution of the blend mask the edit applies, if any. */
export function largestControlledSelfSize(layers: readonly AttentionLayer[]): [number, number] | undefined {
  let best: AttentionLayer | undefined;
  for (const l of layers) if (l.kind === "self" && l.controlled && (!best || l.queryLength > best.queryLength)) best = l;
  return best && [best.height, best.width];
}
