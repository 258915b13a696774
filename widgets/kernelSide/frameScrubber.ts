// Kernel side of the FrameScrubber: labelled clips side by side (source / reconstruction / edit) with a
// shared frame index. Playback runs in the frontend; the kernel only learns the frame where it stops.
import { z } from "zod";
import type { VideoClip } from "../../src/video/readVideo";
import { indexBelow, WidgetModel, type FrontendKeys, type WidgetModelOptions } from "../comm/widgetModel";
import type { WidgetState } from "../comm/protocol";
import { WIDGETS, type FrameScrubberState, type ScrubberRow, widgetIdentity } from "../shared/widgetStates";
import { clipImages, type ClipImageOptions } from "./clipImages";

/** A clip with the label shown above it. */
export interface LabelledClip {
  label: string;
  clip: VideoClip;
}

/** Options of a scrubber. */
export interface FrameScrubberOptions extends WidgetModelOptions {
  title?: string;
  /** Playback speed (default: the first clip's fps). */
  fps?: number;
  image?: ClipImageOptions;
}

/** What a view may set: the frame, playback and its speed (the view's fps field allows 1 to 60). */
const FRONTEND_KEYS: FrontendKeys<FrameScrubberState> = (s) => ({
  frame: indexBelow(Math.max(1, s.frame_count)),
  playing: z.boolean(),
  fps: z.number().min(1).max(60),
});

/** Labelled clips side by side with a frame slider, play/pause, step and fps. */
export class FrameScrubber extends WidgetModel<FrameScrubberState & WidgetState> {
  private imageOptions: ClipImageOptions = {};

  /** Encode the clips' frames and open the scrubber on the frontend. */
  static async create(clips: LabelledClip[], options: FrameScrubberOptions = {}): Promise<FrameScrubber> {
    const rows = await Promise.all(clips.map(async (c) => ({ label: c.label, clip: await clipImages(c.clip, options.image) })));
    const scrubber = new FrameScrubber(
      {
        ...widgetIdentity(WIDGETS.frameScrubber),
        title: options.title ?? "",
        rows,
        frame_count: frameCount(rows),
        frame: 0,
        playing: false,
        fps: options.fps ?? clips[0]?.clip.fps ?? 8,
      },
      { ...options, noEcho: ["rows", ...(options.noEcho ?? [])], frontendKeys: FRONTEND_KEYS },
    );
    scrubber.imageOptions = options.image ?? {};
    return scrubber;
  }

  /** The labels of the rows, in display order. */
  labels(): string[] {
    return this.get("rows").map((r) => r.label);
  }

  /** Show `clip` in the row labelled `label`, replacing that row, or adding it before the row `before` (default: at the end). */
  async setClip(label: string, clip: VideoClip, before?: string): Promise<void> {
    const row: ScrubberRow = { label, clip: await clipImages(clip, this.imageOptions) };
    const rows = this.get("rows").slice();
    const at = rows.findIndex((r) => r.label === label);
    const next = rows.findIndex((r) => r.label === before);
    if (at >= 0) rows[at] = row;
    else if (next >= 0) rows.splice(next, 0, row);
    else rows.push(row);
    this.updateRows(rows);
  }

  /** Remove the row labelled `label` (no-op when absent). */
  removeClip(label: string): void {
    this.updateRows(this.get("rows").filter((r) => r.label !== label));
  }

  private updateRows(rows: ScrubberRow[]): void {
    const count = frameCount(rows);
    this.update({ rows, frame_count: count, frame: Math.min(this.get("frame"), Math.max(0, count - 1)) });
  }
}

function frameCount(rows: ScrubberRow[]): number {
  return rows.reduce((n, r) => Math.max(n, r.clip.frames.length), 0);
}
