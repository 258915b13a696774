// How the stored cross-attention maps (the controlled layers', attentionSites.ts) are combined: the blend
// mask's layers averaged over all their heads, and the viewer's groups per place and resolution. FateZero
// requires the mask layers to share one resolution (it crashes otherwise); where they do not, each map is
// resized (nearest) to the largest of them first — the same result wherever FateZero works, and a defined
// one elsewhere. Maps keep their T token columns.
import type { AttentionLayer } from "./attentionSites";
import type { MapGroup } from "./inversionRecord";

/** The size the mask layers' maps are combined at: the largest of them ([0, 0] without mask layers). */
export function maskMapSize(picks: readonly AttentionLayer[]): [number, number] {
  return picks.reduce<[number, number]>((best, l) => (l.height * l.width > best[0] * best[1] ? [l.height, l.width] : best), [0, 0]);
}

/**
 * Mean over all heads of the mask layers for batch branch `branch`: each layer's head-averaged maps
 * [B·F, h·w, T] (in `maps`, by module), resized to `size` and weighted by its head count → [F, H·W, T].
 */
export function combineMaskMaps(
  picks: readonly AttentionLayer[],
  maps: ReadonlyMap<string, Float32Array>,
  branch: number,
  F: number,
  size: [number, number],
  tokens: number,
): Float32Array {
  const heads = picks.reduce((a, l) => a + l.heads, 0);
  const out = new Float32Array(F * size[0] * size[1] * tokens); // [F, H·W, T]
  for (const l of picks) {
    const rows = F * l.height * l.width * tokens;
    const own = maps.get(l.module)!.subarray(branch * rows, (branch + 1) * rows);
    const m = resizeMapsNearest(own, F, l.height, l.width, size[0], size[1], tokens);
    const weight = l.heads / heads;
    for (let i = 0; i < out.length; i++) out[i] += m[i] * weight;
  }
  return out;
}

/** Group stored layers by place and level, in first-seen order. */
export function mapGroups(stored: readonly AttentionLayer[]): { group: MapGroup; members: AttentionLayer[] }[] {
  const groups: { group: MapGroup; members: AttentionLayer[] }[] = [];
  for (const l of stored) {
    let g = groups.find((x) => x.group.place === l.place && x.group.level === l.level);
    if (!g) {
      g = { group: { place: l.place, level: l.level, height: l.height, width: l.width, layers: 0, heads: 0 }, members: [] };
      groups.push(g);
    }
    g.group.layers++;
    g.group.heads += l.heads;
    g.members.push(l);
  }
  return groups;
}

/** Nearest-neighbour resize of maps [F, h·w, T] to [F, H·W, T] (torch's `interpolate` index rule). */
export function resizeMapsNearest(
  maps: Float32Array,
  frames: number,
  h: number,
  w: number,
  H: number,
  W: number,
  tokens: number,
): Float32Array {
  if (h === H && w === W) return maps;
  const out = new Float32Array(frames * H * W * tokens); // [F, H·W, T]
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < H; y++) {
      const sy = Math.min(h - 1, Math.floor((y * h) / H));
      for (let x = 0; x < W; x++) {
        const sx = Math.min(w - 1, Math.floor((x * w) / W));
        const from = ((f * h + sy) * w + sx) * tokens;
        out.set(maps.subarray(from, from + tokens), ((f * H + y) * W + x) * tokens);
      }
    }
  }
  return out;
}

/** Keep the first `keep` of the `tokens` columns of maps [F·L, tokens]. */
export function keepTokens(maps: Float32Array, rows: number, keep: number, tokens: number): Float32Array {
  if (keep === tokens) return maps;
  const out = new Float32Array(rows * keep); // [F·L, keep]
  for (let r = 0; r < rows; r++) out.set(maps.subarray(r * tokens, r * tokens + keep), r * keep);
  return out;
}

/** Mean of same-sized layer maps [F·L, tokens], keeping `keep` columns: [F·L, keep]. */
export function averageGroup(members: Float32Array[], rows: number, keep: number, tokens: number): Float32Array {
  const out = new Float32Array(rows * keep); // [F·L, keep]
  for (const m of members) {
    const kept = keepTokens(m, rows, keep, tokens);
    for (let i = 0; i < out.length; i++) out[i] += kept[i] / members.length;
  }
  return out;
}
