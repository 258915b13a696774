// Per-frame canvases that show a clip's frames with an overlay drawn over each (the viewer's heat maps, the
// tuner's masks). Frames decode asynchronously; a newer draw supersedes one still waiting for them.
import type { ClipFrames } from "../shared/widgetStates";
import { bumpVersion, canvasFigures, decodeFrames, drawOverlay, h } from "./dom";

/** What to draw over the frames: `count` overlays of width × height, and a caption per frame. */
export interface FrameOverlay {
  count: number;
  width: number;
  height: number;
  image(f: number): ImageData | undefined;
  caption(f: number): string;
}

/** A row of frame canvases with overlays; `element` goes into the view. */
export class FrameOverlays {
  readonly element = h("div", { cls: "fz-frames" });
  private clip: ClipFrames | undefined;
  private bitmaps: Promise<(ImageBitmap | undefined)[]> = Promise.resolve([]);
  private drawing = 0;

  /** Canvases get test ids `<canvasId>-<f>`, captions `<captionId>-<f>`. */
  constructor(
    private readonly canvasId: string,
    private readonly captionId: string,
  ) {}

  /** Use these frames from the next draw on. */
  setClip(clip: ClipFrames | undefined): void {
    this.clip = clip;
    this.bitmaps = decodeFrames(clip);
  }

  /** Redraw every frame with `overlay` (canvases are reused, so their data-version keeps counting). */
  async draw(overlay: FrameOverlay): Promise<void> {
    const ticket = ++this.drawing;
    const bitmaps = await this.bitmaps;
    if (ticket !== this.drawing) return;
    const clip = this.clip;
    const count = Math.max(clip?.frames.length ?? 0, overlay.count);
    canvasFigures(this.element, count, this.canvasId, this.captionId).forEach(({ canvas, caption }, f) => {
      drawOverlay(canvas, bitmaps[f], clip?.width || overlay.width, clip?.height || overlay.height, overlay.image(f));
      caption.textContent = overlay.caption(f);
      bumpVersion(canvas);
    });
    bumpVersion(this.element);
  }
}
