// Headless Debian Chromium for browser tests (playwright-core drives it; no browser is ever downloaded), a
// static file server for test pages, the folder screenshots are kept in, and the frames and notebook cells
// the widget tests show.
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium. */
export const CHROMIUM = "/usr/bin/chromium";
/** Flags for a quiet, offline-friendly headless Chromium in a container. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Where tests keep screenshots (the project root's test-artifacts/, git-ignored). */
export const ARTIFACTS = path.resolve(__dirname, "..", "..", "..", "test-artifacts");

/** Why browser tests must be skipped here, or false when Chromium is available. */
export function chromiumMissing(): string | false {
  return fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;
}

/** Launch Debian's Chromium headless with a fresh profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Collect a page's console errors and uncaught exceptions (for failure messages). */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(`${err.name}: ${err.message}`));
  page.on("response", (res) => {
    if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`);
  });
  return errors;
}

/** Save a full-page screenshot as test-artifacts/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** A static file server for `root` on 127.0.0.1 (a free port). */
export async function serveStatic(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    // Browsers ask for an icon nobody serves; answering keeps the console free of 404 noise.
    if (req.url === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const file = path.join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The first `count` frames of the shared car-turn clip, resized to `size`² and encoded as JPEG or PNG. */
export async function carTurnFrames(dataDir: string, count: number, size: number, format: "jpeg" | "png"): Promise<Buffer[]> {
  const sharp = (await import("sharp")).default;
  const files = fs
    .readdirSync(path.join(dataDir, "car-turn"))
    .filter((f) => f.endsWith(".png"))
    .sort()
    .slice(0, count);
  return Promise.all(
    files.map((f) =>
      sharp(path.join(dataDir, "car-turn", f))
        .resize(size, size)
        .toFormat(format)
        .toBuffer(),
    ),
  );
}

/** A notebook of TypeScript cells for the fatezero kernel. */
export function tsNotebook(cells: string[]): string {
  return JSON.stringify({
    cells: cells.map((source, i) => ({ id: `cell-${i}`, cell_type: "code", execution_count: null, metadata: {}, outputs: [], source })),
    metadata: {
      kernelspec: { name: "fatezero", display_name: "FateZero (TypeScript)", language: "typescript" },
      language_info: { name: "typescript" },
    },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

/** A cell that shows a FrameScrubber of frame0.jpg … frame3.jpg (in the kernel's folder) as `scrubber`. */
export const SCRUBBER_CELL = `import * as fs from "fs";
import { WidgetModel } from "fatezero/widgets";
const names = { _model_module: "fatezero-widgets", _model_module_version: "0.1.0", _view_module: "fatezero-widgets", _view_module_version: "0.1.0" };
const frames = [0, 1, 2, 3].map((i) => fs.readFileSync(\`frame\${i}.jpg\`));
const scrubber = new WidgetModel({ ...names, _model_name: "FrameScrubberModel", _view_name: "FrameScrubberView", title: "car-turn",
  rows: [{ label: "source", clip: { mime: "image/jpeg", width: 96, height: 96, frames } }], frame_count: 4, frame: 0, playing: false, fps: 8 });
scrubber.display();`;

/** What an offline page load saw: requests refused (anything not file://) and local files that failed. */
export interface OfflineLoad {
  blocked: string[];
  failedFiles: string[];
}

/** Open an HTML file from file:// with every other request refused, run `body`, and keep a screenshot. */
export async function withOfflinePage(file: string, shot: string, body: (page: Page, load: OfflineLoad) => Promise<void>): Promise<void> {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    const load: OfflineLoad = { blocked: [], failedFiles: [] };
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file://")) return route.continue();
      load.blocked.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on("requestfailed", (req) => {
      if (req.url().startsWith("file://")) load.failedFiles.push(req.url());
    });
    await page.goto(`file://${file}`);
    try {
      await body(page, load);
    } finally {
      await screenshot(page, shot);
    }
  } finally {
    await browser.close();
  }
}
