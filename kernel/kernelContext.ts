// What notebook cells and widget code use to talk to the running kernel. Cells import it as
//   import { currentCommManager, display, displayImage, progress } from "fatezero/kernel";
// (the kernel resolves that name to this module), and widgets/ imports "../kernel/kernelContext". Both get the
// same services: the kernel provides them once at startup; outside the kernel every call throws.
import type { CommManager } from "./commTypes";
import {
  imageBundle,
  MIME_BUNDLE,
  progressDisplay,
  type DisplayHandle,
  type DisplayOptions,
  type DisplayPublisher,
  type ImageOptions,
  type MimeBundle,
} from "./display";

export type { Buffers, Comm, CommManager } from "./commTypes";
export { MIME_BUNDLE };
export type { DisplayHandle, DisplayOptions, ImageOptions, MimeBundle };

/** What the running kernel provides to cells. */
export interface KernelServices {
  comms: CommManager;
  display: DisplayPublisher;
  /** A signal aborted at the next kernel interrupt. */
  interruptSignal(): AbortSignal;
  input(prompt: string, password: boolean): Promise<string>;
}

// Kept on globalThis so that a second copy of this module (another path to the same file) sees the same kernel.
const SLOT = Symbol.for("fatezero.kernel.services");
type Slot = { [SLOT]?: KernelServices };

/** Called once by the kernel at startup; not for cells. */
export function provideKernelServices(services: KernelServices): void {
  (globalThis as Slot)[SLOT] = services;
}

/** Whether this code runs inside the FateZero kernel. */
export function insideKernel(): boolean {
  return (globalThis as Slot)[SLOT] !== undefined;
}

function kernel(): KernelServices {
  const services = (globalThis as Slot)[SLOT];
  if (!services) throw new Error("fatezero/kernel: not running inside the FateZero Jupyter kernel");
  return services;
}

/** The kernel's comm manager (open comms, register comm targets). */
export function currentCommManager(): CommManager {
  return kernel().comms;
}

/** Show a MIME bundle, e.g. { "text/html": "<b>hi</b>" }; the handle updates it in place. */
export function display(bundle: MimeBundle, options?: DisplayOptions): DisplayHandle {
  return kernel().display.display(bundle, options);
}

/** Show HTML. */
export function displayHtml(html: string, options?: DisplayOptions): DisplayHandle {
  return display({ "text/html": html }, options);
}

/** Show PNG (or JPEG/GIF) bytes as an image. */
export function displayImage(bytes: Uint8Array, options: ImageOptions = {}): DisplayHandle {
  const { bundle, metadata } = imageBundle(bytes, options);
  return display(bundle, { metadata, displayId: options.displayId });
}

/** Show video bytes (e.g. an mp4 from `encodeMp4`) as an inline, looping HTML5 video. */
export function displayVideo(bytes: Uint8Array, options: DisplayOptions & { mime?: string; width?: number } = {}): DisplayHandle {
  const mime = options.mime ?? "video/mp4";
  const src = `data:${mime};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}`;
  const width = options.width ? ` width="${options.width}"` : "";
  return display(
    {
      "text/html": `<video controls loop autoplay muted${width} src="${src}"></video>`,
      "text/plain": `<${mime} video, ${bytes.length} bytes>`,
    },
    options,
  );
}

/** Clear the cell's output (when the next output arrives, with `wait`). */
export function clearOutput(wait = false): void {
  kernel().display.clearOutput(wait);
}

/** A progress bar that updates in place, as a `(done, total)` callback (the pipeline's onProgress). */
export function progress(label: string): (done: number, total: number) => void {
  return progressDisplay(kernel().display, label);
}

/** Aborted when the user next interrupts the kernel: pass it as `signal` to long pipeline stages. */
export function interruptSignal(): AbortSignal {
  return kernel().interruptSignal();
}

/** Ask the user for a line of text (the frontend shows a prompt). */
export function input(prompt = "", options: { password?: boolean } = {}): Promise<string> {
  return kernel().input(prompt, options.password === true);
}
