// The attention layers of an SD-1.x-shaped UNet at a given frame size, in forward order, as FateZero
// sees them: which are controlled (query length per frame ≤ the limit, FateZero's 32²), where each sits
// in FateZero's attention store, which cross layers feed the blend mask, and which frames the
// self-attention takes its keys from.
import type { FrameSelector } from "../models/frameLayout";

/** The parts of a UNet config that determine its attention layers. */
export interface UnetShape {
  blockOutChannels: number[];
  downBlockTypes: string[];
  upBlockTypes: string[];
  layersPerBlock: number;
  /** Heads per down level (the up path reverses it, the mid block uses the last). */
  heads: number[];
}

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
  /** Keys per query: the selected frames' tokens for self-attention, 77 text tokens for cross-attention. */
  keyLength: number;
  /** Frames the self-attention takes keys from; [] = the frame itself (below least_sc_channel, and for cross). */
  selectors: FrameSelector[];
  controlled: boolean;
  /** Position in FateZero's attention store (`down_cross`, …) among controlled layers, or null. */
  store: { key: string; index: number } | null;
  /** One of the cross layers FateZero's blend mask averages (`down_cross[2:4] + up_cross[:3]`). */
  maskSource: boolean;
}

/** Text tokens of an SD 1.x prompt (CLIP context length). */
const TEXT_TOKENS = 77;

/** Every attention layer of the UNet for a latent of `latent` = [h, w] (pixels / 8), in forward order. */
export function attentionLayers(
  unet: UnetShape,
  latent: [number, number],
  video: { selectors: FrameSelector[]; leastScChannel: number },
  controlQueryLimit: number,
): AttentionLayer[] {
  const levels = unet.blockOutChannels.length;
  for (const [name, list] of [["downBlockTypes", unet.downBlockTypes], ["upBlockTypes", unet.upBlockTypes], ["heads", unet.heads]] as const) {
    if (list.length !== levels) throw new Error(`UNet shape: ${name} has ${list.length} entries for ${levels} levels`);
  }
  const layers: AttentionLayer[] = [];
  const storeCounts = new Map<string, number>();
  const add = (prefix: string, place: AttentionLayer["place"], level: number, heads: number) => {
    const channels = unet.blockOutChannels[level];
    const [height, width] = [latent[0] >> level, latent[1] >> level];
    const queryLength = height * width;
    const controlled = queryLength <= controlQueryLimit;
    const selectors = channels >= video.leastScChannel ? video.selectors : [];
    for (const kind of ["self", "cross"] as const) {
      let store: AttentionLayer["store"] = null;
      if (controlled) {
        const key = `${place}_${kind}`;
        const index = storeCounts.get(key) ?? 0;
        storeCounts.set(key, index + 1);
        store = { key, index };
      }
      const maskSource = store !== null && ((store.key === "down_cross" && store.index >= 2 && store.index < 4) || (store.key === "up_cross" && store.index < 3));
      layers.push({
        module: `${prefix}.transformer_blocks.0.${kind === "self" ? "attn1" : "attn2"}`,
        place,
        level,
        kind,
        channels,
        heads,
        height,
        width,
        queryLength,
        keyLength: kind === "cross" ? TEXT_TOKENS : queryLength * Math.max(selectors.length, 1),
        selectors: kind === "self" ? [...selectors] : [],
        controlled,
        store,
        maskSource,
      });
    }
  };
  unet.downBlockTypes.forEach((type, level) => {
    if (!type.startsWith("CrossAttn")) return;
    for (let j = 0; j < unet.layersPerBlock; j++) add(`down_blocks.${level}.attentions.${j}`, "down", level, unet.heads[level]);
  });
  add("mid_block.attentions.0", "mid", levels - 1, unet.heads[levels - 1]);
  unet.upBlockTypes.forEach((type, i) => {
    if (!type.startsWith("CrossAttn")) return;
    const level = levels - 1 - i;
    for (let j = 0; j <= unet.layersPerBlock; j++) add(`up_blocks.${i}.attentions.${j}`, "up", level, unet.heads[level]);
  });
  return layers;
}
