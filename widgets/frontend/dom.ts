// Small DOM helpers shared by the views: element creation with test ids, Blob URLs for encoded frames, image
// decoding for canvases, and a once-per-frame scheduler for saving slider values while they are dragged.
import type { ClipFrames } from "../shared/widgetStates";

/** Create an element with a class, optional test id and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { cls?: string; testid?: string; text?: string } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.cls) el.className = props.cls;
  if (props.testid) el.dataset.testid = props.testid;
  if (props.text !== undefined) el.textContent = props.text;
  el.append(...children);
  return el;
}

/** An `<input type=range>` with a test id. */
export function rangeInput(testid: string, min: number, max: number, step: number): HTMLInputElement {
  const input = h("input", { testid });
  input.type = "range";
  input.min = String(min);
  input.max = String(max);
  input.step = String(step);
  return input;
}

/** Bump the element's `data-version`, which tests wait on to know a redraw finished. */
export function bumpVersion(el: HTMLElement): void {
  el.dataset.version = String(Number(el.dataset.version ?? "0") + 1);
}

/** The bytes of a binary state value: a DataView from the kernel, or any other ArrayBufferView. */
export function bytes(value: unknown): Uint8Array {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(0);
}

/** Frame `index` of a clip as a Blob (the last frame when the clip is shorter), or undefined when it has none. */
export function frameBlob(clip: ClipFrames | undefined, index: number): Blob | undefined {
  if (!clip || clip.frames.length === 0) return undefined;
  const frame = clip.frames[Math.min(Math.max(index, 0), clip.frames.length - 1)];
  return new Blob([bytes(frame) as Uint8Array<ArrayBuffer>], { type: clip.mime });
}

/** Blob URLs of one clip's frames, created on first use and all revoked together when the clip changes. */
export class FrameUrls {
  private urls = new Map<number, string>();
  private clip: ClipFrames | undefined;

  /** Use `clip` from now on, revoking the URLs of the previous one. */
  reset(clip: ClipFrames | undefined): void {
    this.revoke();
    this.clip = clip;
  }

  /** The URL of frame `index` ("" when the clip has no frames). */
  url(index: number): string {
    const clip = this.clip;
    if (!clip || clip.frames.length === 0) return "";
    const i = Math.min(Math.max(index, 0), clip.frames.length - 1);
    let url = this.urls.get(i);
    if (url === undefined) {
      url = URL.createObjectURL(frameBlob(clip, i)!);
      this.urls.set(i, url);
    }
    return url;
  }

  /** Revoke every URL made so far. */
  revoke(): void {
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }
}

/** Decode every frame of a clip (for drawing on canvases); frames that fail to decode are undefined. */
export async function decodeFrames(clip: ClipFrames | undefined): Promise<(ImageBitmap | undefined)[]> {
  if (!clip) return [];
  return Promise.all(clip.frames.map((_, i) => createImageBitmap(frameBlob(clip, i)!).catch(() => undefined)));
}

/**
 * Call `fn` at most once per animation frame: slider `input` events come faster than the kernel can
 * answer, and saving the latest value once per frame keeps the preview live without flooding the comm.
 */
export function perFrame(fn: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  };
}

/**
 * Draw `image` scaled to the canvas, then `overlay` (a small RGBA image) upsampled smoothly over it.
 * The canvas takes the frame's size so the overlay lines up whatever the map resolution.
 */
export function drawOverlay(
  canvas: HTMLCanvasElement,
  image: ImageBitmap | undefined,
  width: number,
  height: number,
  overlay: ImageData | undefined,
): void {
  canvas.width = Math.max(1, width);
  canvas.height = Math.max(1, height);
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (image) ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  if (!overlay) return;
  const small = document.createElement("canvas");
  small.width = overlay.width;
  small.height = overlay.height;
  small.getContext("2d")?.putImageData(overlay, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/**
 * Keep exactly `count` figures of a canvas and a caption in `container`, reusing existing ones so each
 * canvas's `data-version` keeps counting across redraws.
 */
export function canvasFigures(
  container: HTMLElement,
  count: number,
  canvasId: string,
  captionId: string,
): { canvas: HTMLCanvasElement; caption: HTMLElement }[] {
  while (container.children.length > count) container.lastElementChild!.remove();
  while (container.children.length < count) {
    const i = container.children.length;
    container.append(h("figure", {}, h("canvas", { testid: `${canvasId}-${i}` }), h("figcaption", { testid: `${captionId}-${i}` })));
  }
  return Array.from(container.children, (figure) => ({
    canvas: figure.querySelector("canvas")!,
    caption: figure.querySelector("figcaption") as HTMLElement,
  }));
}
