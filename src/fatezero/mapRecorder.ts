// The maps an inversion keeps, recorded step by step from the stored layers' head-averaged maps: the blend
// mask's layers combined over all their heads at every token, and the viewer's groups averaged over their
// layers at the prompt's token columns (InversionRecord's `maskMaps` and `groups`). The inversion records
// them on its latents; the denoising-maps replay records the same layout on a denoising trajectory.
import { maskLayers, storedLayers, type AttentionLayer } from "./attentionSites";
import type { InversionRecord } from "./inversionRecord";
import { averageGroup, combineMaskMaps, mapGroups, maskMapSize } from "./mapLayers";

/** The recorded maps, in the inversion's layout. */
export type RecordedMaps = Pick<InversionRecord, "groups" | "maskMaps">;

/** Records each step's maps of a UNet's stored layers. */
export class MapRecorder {
  /** The layers whose maps every recorded UNet call must return (the controlled cross-attention layers). */
  readonly stored: AttentionLayer[];
  /** The maps recorded so far: step k of every list is set by `record(k, …)`. */
  readonly maps: RecordedMaps;
  private readonly picks: AttentionLayer[];
  private readonly maskSize: [number, number];
  private readonly groups: { members: AttentionLayer[]; rows: number }[];

  /** For `steps` steps of a clip of `frames` frames; groups keep the prompt's first `promptTokens` of the T token columns. */
  constructor(
    layers: readonly AttentionLayer[],
    private readonly frames: number,
    steps: number,
    private readonly promptTokens: number,
    private readonly T: number,
  ) {
    this.stored = storedLayers(layers);
    this.picks = maskLayers(layers);
    this.maskSize = maskMapSize(this.picks);
    const groups = mapGroups(this.stored);
    this.groups = groups.map((g) => ({ members: g.members, rows: frames * g.group.height * g.group.width }));
    this.maps = {
      groups: groups.map((g) => ({ group: g.group, steps: new Array<Float32Array>(steps) })),
      ...(this.picks.length > 0
        ? {
            maskMaps: {
              height: this.maskSize[0],
              width: this.maskSize[1],
              heads: this.picks.reduce((a, l) => a + l.heads, 0),
              tokens: T,
              steps: new Array<Float32Array>(steps),
            },
          }
        : {}),
    };
  }

  /** Record step k from a prediction's maps of the stored layers (by module, each [F, h·w, T]). */
  record(k: number, maps: ReadonlyMap<string, Float32Array>): void {
    if (this.maps.maskMaps) this.maps.maskMaps.steps[k] = combineMaskMaps(this.picks, maps, 0, this.frames, this.maskSize, this.T);
    this.groups.forEach((g, gi) => {
      const members = g.members.map((l) => maps.get(l.module)!);
      this.maps.groups[gi].steps[k] = averageGroup(members, g.rows, this.promptTokens, this.T);
    });
  }
}

/** Floats per frame and step that an inversion keeps of these layers' maps (its memory, before any work). */
export function recordedMapFloats(layers: readonly AttentionLayer[], promptTokens: number, T: number): number {
  const positions = mapGroups(storedLayers(layers)).reduce((a, g) => a + g.group.height * g.group.width, 0);
  const [mh, mw] = maskMapSize(maskLayers(layers));
  return positions * promptTokens + mh * mw * T;
}
