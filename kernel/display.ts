// Rich output: display_data / update_display_data / clear_output, images (base64 in JSON, as the spec requires
// for binary MIME types), the value shown for a cell's last expression, and an updating progress display.
import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import type { Messenger } from "./messenger";
import { currentRequest } from "./requestContext";

/** MIME type → data (text, or base64 for binary types, or JSON for JSON types). */
export type MimeBundle = Record<string, unknown>;

/**
 * An object that renders itself: `value[MIME_BUNDLE]()` returns its bundle (the kernel adds text/plain if
 * absent), or undefined to show nothing when it is a cell's last expression.
 */
export const MIME_BUNDLE: unique symbol = Symbol.for("fatezero.kernel.mimeBundle");

/** Options of a display. */
export interface DisplayOptions {
  metadata?: Record<string, unknown>;
  /** Reuse an id to make several outputs update together; a fresh id is made otherwise. */
  displayId?: string;
}

/** A shown output that can be replaced in place. */
export interface DisplayHandle {
  readonly displayId: string;
  /** Replace every output shown with this id (update_display_data). */
  update(bundle: MimeBundle, metadata?: Record<string, unknown>): void;
}

/** Image display options; width/height set the shown size in pixels. */
export interface ImageOptions {
  width?: number;
  height?: number;
  displayId?: string;
}

/** Publishes display messages parented to the request the calling code belongs to. */
export class DisplayPublisher {
  constructor(private readonly messenger: Messenger) {}

  /** Show a MIME bundle (display_data with a display_id, so it can be updated). */
  display(bundle: MimeBundle, options: DisplayOptions = {}): DisplayHandle {
    const displayId = options.displayId ?? randomUUID();
    this.publish("display_data", bundle, options.metadata ?? {}, displayId);
    return {
      displayId,
      update: (next, metadata = {}) => this.publish("update_display_data", next, metadata, displayId),
      // `display(…)` as a cell's last line shows the display once, not also the handle.
      [MIME_BUNDLE]: () => undefined,
    } as DisplayHandle;
  }

  /** Clear the current cell's output (after the next output arrives when `wait`). */
  clearOutput(wait = false): void {
    void this.messenger.publish(currentRequest()?.message, "clear_output", { wait });
  }

  private publish(msgType: string, bundle: MimeBundle, metadata: Record<string, unknown>, displayId: string): void {
    void this.messenger.publish(currentRequest()?.message, msgType, {
      data: checkedBundle(bundle),
      metadata,
      transient: { display_id: displayId },
    });
  }
}

/** The bundle and metadata that show PNG, JPEG or GIF bytes. */
export function imageBundle(bytes: Uint8Array, options: ImageOptions = {}): { bundle: MimeBundle; metadata: Record<string, unknown> } {
  const mime = imageType(bytes);
  const size = mime === "image/png" && bytes.length >= 24 ? Buffer.from(bytes.buffer, bytes.byteOffset + 16, 8) : undefined;
  const description = size ? `<PNG image ${size.readUInt32BE(0)}×${size.readUInt32BE(4)}>` : `<${mime}, ${bytes.length} bytes>`;
  const shown: Record<string, number> = {};
  if (options.width !== undefined) shown.width = options.width;
  if (options.height !== undefined) shown.height = options.height;
  return {
    bundle: { [mime]: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"), "text/plain": description },
    metadata: Object.keys(shown).length ? { [mime]: shown } : {},
  };
}

/** The bundle shown for a value (a cell's last expression); undefined when the value asks to show nothing. */
export function valueBundle(value: unknown): MimeBundle | undefined {
  const render = (value as { [MIME_BUNDLE]?: unknown } | null | undefined)?.[MIME_BUNDLE];
  if (typeof render !== "function") return { "text/plain": inspect(value, { depth: 4 }) };
  const rendered = render.call(value) as MimeBundle | undefined | null;
  if (rendered === undefined || rendered === null) return undefined;
  return "text/plain" in rendered ? rendered : { ...rendered, "text/plain": inspect(value, { depth: 4 }) };
}

/** A `(done, total)` callback (the pipeline's onProgress shape) drawing an updating progress bar. */
export function progressDisplay(publisher: DisplayPublisher, label: string): (done: number, total: number) => void {
  let handle: DisplayHandle | undefined;
  let lastShown = 0;
  return (done, total) => {
    const now = Date.now();
    // At most ten redraws a second, but always the first and the final state.
    if (handle && done < total && now - lastShown < 100) return;
    lastShown = now;
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const bar = "#".repeat(Math.round(fraction * 30)).padEnd(30, ".");
    const text = `${label} [${bar}] ${done}/${total} (${Math.round(fraction * 100)}%)`;
    const html = `<div><progress value="${done}" max="${total}" style="width:20em"></progress> ${escapeHtml(label)} ${done}/${total}</div>`;
    const bundle = { "text/plain": text, "text/html": html };
    if (handle) handle.update(bundle);
    else handle = publisher.display(bundle);
  };
}

function imageType(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "image/png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return "image/jpeg";
  if (bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) return "image/gif";
  throw new Error("displayImage: the bytes are not a PNG, JPEG or GIF image");
}

function checkedBundle(bundle: MimeBundle): MimeBundle {
  for (const key of Object.keys(bundle))
    if (!/^[\w.+-]+\/[\w.+-]+$/.test(key)) throw new Error(`display: ${JSON.stringify(key)} is not a MIME type`);
  return bundle;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}
