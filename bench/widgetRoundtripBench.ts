// `widget-frame-roundtrip`: milliseconds from the kernel replacing a FrameScrubber's clip (8 frames at 256²,
// JPEG-encoded into comm buffers) to the browser having loaded the new frame image, through a live
// Notebook 7 (`jupyter notebook` from the pinned .venv), our kernel and labextension, and headless Chromium. Both ends stamp
// performance.timeOrigin + performance.now() on the same machine, so the clocks agree.
import { withNotebookPage } from "../test/support/notebookPage";

const ROUNDS = 20;

const SETUP = `import { makeSampleClip } from "fatezero";
import { FrameScrubber } from "fatezero/widgets";
const clips = [makeSampleClip(8, 256), makeSampleClip(8, 256)];
clips[1].frames.forEach((v, i) => (clips[1].frames[i] = 255 - v));
const scrubber = await FrameScrubber.create([{ label: "clip", clip: clips[0] }]);
scrubber.display();`;

const ROUNDTRIPS = `const marks: number[][] = [];
for (let k = 0; k < ${ROUNDS}; k++) {
  const t0 = performance.timeOrigin + performance.now();
  await scrubber.setClip("clip", clips[(k + 1) % 2]);
  marks.push([t0, performance.timeOrigin + performance.now()]);
  await new Promise((r) => setTimeout(r, 250));
}
console.log("MARKS " + JSON.stringify(marks));`;

function stats(xs: number[]): { median: number; p90: number; max: number } {
  const s = xs.slice().sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)], max: s[s.length - 1] };
}

/** Latency of clip updates from the kernel to a rendered image in the browser. */
export async function widgetRoundtripBench(): Promise<Record<string, unknown>> {
  let result: Record<string, unknown> = {};
  await withNotebookPage({ cells: [SETUP, ROUNDTRIPS], failureShot: "bench-roundtrip-failure" }, async ({ page, execute, outputText }) => {
    await execute(0);
    await page.waitForFunction(
      () => ((globalThis as any).document.querySelector('[data-testid="fz-row-0"]')?.naturalWidth ?? 0) > 0,
      undefined,
      { timeout: 120_000 },
    );
    await page.evaluate(() => {
      const w = globalThis as any;
      w.__loads = [];
      // `load` does not bubble; a capturing listener on the document still sees every image's.
      w.document.addEventListener(
        "load",
        (e: any) => {
          if (e.target?.dataset?.testid === "fz-row-0") w.__loads.push(w.performance.timeOrigin + w.performance.now());
        },
        true,
      );
    });
    await execute(1);
    const out = outputText(1);
    await out.waitFor({ timeout: 120_000 });
    const marks = JSON.parse((await out.textContent())!.trim().replace(/^MARKS /, "")) as number[][];
    const loads: number[] = await page.evaluate(() => (globalThis as any).__loads);
    if (loads.length !== marks.length) throw new Error(`${marks.length} updates sent but ${loads.length} images loaded`);
    result = {
      sentToRenderedMs: stats(marks.map(([, sent], k) => loads[k] - sent)),
      encodeAndSendMs: stats(marks.map(([t0, sent]) => sent - t0)),
      rounds: ROUNDS,
      frames: 8,
      size: 256,
    };
  });
  return result;
}
