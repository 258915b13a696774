// The five frontend views in headless Chromium: a static page with html-manager's embed-amd.js and our
// fatezero-widgets.js AMD module, models made from states built here (real JPEG/PNG frames), each model on a
// recording comm so the test sees exactly what a view would send to the kernel.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { carTurnFrames, chromiumMissing, launchChromium, pageErrors, screenshot, serveStatic } from "./support/chromium";
import { SHARED, tempDir } from "./sharedData";

const EMBED = path.resolve(__dirname, "..", "widgets", "embed");
const skip =
  chromiumMissing() || (!fs.existsSync(path.join(EMBED, "fatezero-widgets.js")) && "the widget bundles are not built (npm run build)");

// The page's API: show(model name, state, id) makes a model on a recording comm and displays its view;
// binary values arrive as {$b64} and become DataViews, as comm buffers would.
const PAGE = `<!doctype html><meta charset="utf-8"><title>fatezero widgets</title>
<script src="require.js"></script><script src="embed-amd.js"></script>
<body><script>
const load = (name) => new Promise((resolve, reject) => require([name], resolve, reject));
function binaries(value) {
  if (Array.isArray(value)) return value.map(binaries);
  if (value && typeof value === "object") {
    if (typeof value.$b64 === "string") return new DataView(Uint8Array.from(atob(value.$b64), (c) => c.charCodeAt(0)).buffer);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, binaries(v)]));
  }
  return value;
}
window.fz = {
  sent: [],
  models: {},
  async show(name, state, id) {
    const hm = await load("@jupyter-widgets/html-manager");
    this.manager = this.manager || new hm.HTMLManager({ loader: load });
    const comm = { comm_id: id, target_name: "jupyter.widget", open() { return ""; }, close() { return ""; }, on_msg() {}, on_close() {},
      send: (data, callbacks) => {
        this.sent.push({ id, data: JSON.parse(JSON.stringify(data)) });
        // A kernel goes idle after each message; the model throttles its updates until it does.
        setTimeout(() => callbacks?.iopub?.status?.({ content: { execution_state: "idle" } }));
        return "";
      } };
    const model = await this.manager.new_model({ model_name: name, model_module: "fatezero-widgets", model_module_version: "0.1.0", model_id: id, comm }, binaries(state));
    this.models[id] = model;
    const el = document.createElement("div");
    el.id = id;
    document.body.append(el);
    await this.manager.display_view(await this.manager.create_view(model), el);
  },
};
</script></body>`;

let browser: Browser;
let page: Page;
let errors: string[];
let server: Awaited<ReturnType<typeof serveStatic>>;
let jpegs: Buffer[];
let pngs: Buffer[];

const b64 = (data: Uint8Array) => ({ $b64: Buffer.from(data).toString("base64") });
const clip = (frames: Buffer[], mime: string) => ({ mime, width: 96, height: 96, frames: frames.map(b64) });

async function show(name: string, state: Record<string, unknown>, id: string): Promise<void> {
  await page.evaluate(({ name, state, id }) => (globalThis as any).fz.show(name, state, id), { name, state, id });
}

function get(id: string, key: string): Promise<unknown> {
  return page.evaluate(({ id, key }) => (globalThis as any).fz.models[id].get(key), { id, key });
}

function sent(id: string): Promise<{ method: string; state?: Record<string, unknown>; content?: unknown }[]> {
  return page.evaluate((id) => (globalThis as any).fz.sent.filter((m: any) => m.id === id).map((m: any) => m.data), id);
}

// Range inputs have no typing: set the value and fire `input`, as a drag does.
async function slide(testid: string, value: number, root: string): Promise<void> {
  await page.locator(`#${root} [data-testid="${testid}"]`).evaluate((el: any, v) => {
    el.value = String(v);
    el.dispatchEvent(new (globalThis as any).Event("input", { bubbles: true }));
  }, value);
}

const at = (root: string, testid: string) => page.locator(`#${root} [data-testid="${testid}"]`);

before(async () => {
  if (skip) return;
  const root = tempDir("widget-views");
  for (const file of fs.readdirSync(EMBED)) fs.symlinkSync(path.join(EMBED, file), path.join(root, file));
  fs.writeFileSync(path.join(root, "index.html"), PAGE);
  [jpegs, pngs] = await Promise.all([
    carTurnFrames(path.join(SHARED, "data"), 4, 96, "jpeg"),
    carTurnFrames(path.join(SHARED, "data"), 4, 96, "png"),
  ]);
  server = await serveStatic(root);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  errors = pageErrors(page);
  await page.goto(`${server.url}index.html`);
  await page.waitForFunction(() => (globalThis as any).requirejs !== undefined);
});

after(async () => {
  if (page) await screenshot(page, "widget-views").catch(() => undefined);
  await browser?.close();
  await server?.close();
});

test("FrameScrubber: labelled rows, the slider and step buttons move the frame, play advances it locally", { skip }, async () => {
  const state = {
    title: "car-turn",
    rows: [
      { label: "source", clip: clip(jpegs, "image/jpeg") },
      { label: "edit", clip: clip(pngs.slice(0, 3), "image/png") },
    ],
    frame_count: 4,
    frame: 0,
    playing: false,
    fps: 20,
  };
  await show("FrameScrubberModel", state, "scrub");
  assert.equal(await at("scrub", "fz-row-label-0").textContent(), "source");
  assert.equal(await at("scrub", "fz-row-label-1").textContent(), "edit");
  await page.waitForFunction(() =>
    [0, 1].every((i) => ((globalThis as any).document.querySelector(`#scrub [data-testid="fz-row-${i}"]`) as any).naturalWidth === 96),
  );
  assert.match((await at("scrub", "fz-row-0").getAttribute("src")) ?? "", /^blob:/);
  const version = Number(await at("scrub", "fz-row-0").getAttribute("data-version"));

  await slide("fz-frame-slider", 2, "scrub");
  assert.equal(await get("scrub", "frame"), 2);
  assert.ok(Number(await at("scrub", "fz-row-0").getAttribute("data-version")) > version, "the row redraws");
  assert.deepEqual((await sent("scrub")).at(-1), { method: "update", state: { frame: 2 }, buffer_paths: [] });
  await at("scrub", "fz-step-forward").click();
  assert.equal(await get("scrub", "frame"), 3);
  await at("scrub", "fz-step-forward").click();
  assert.equal(await get("scrub", "frame"), 0, "stepping past the end wraps");
  await at("scrub", "fz-step-back").click();
  assert.equal(await get("scrub", "frame"), 3);

  const before = (await sent("scrub")).length;
  await at("scrub", "fz-play").click();
  await page.waitForFunction(() => (globalThis as any).fz.models.scrub.get("frame") !== 3, undefined, { timeout: 3000 });
  assert.equal((await sent("scrub")).length, before + 1, "playback sends only the play, not every frame");
  await at("scrub", "fz-play").click();
  const paused = (await sent("scrub")).at(-1)!;
  assert.equal(paused.state!.playing, false);
  assert.equal(paused.state!.frame, await get("scrub", "frame"), "pausing saves the frame shown");
});

test("CrossAttentionViewer: chips select the token, average disables the step slider, heat maps draw per frame", { skip }, async () => {
  const heatmap = new Uint8Array(4 * 8 * 8).map((_, i) => (i * 7) % 256);
  const state = {
    tokens: ["<|startoftext|>", "a", "silver", "jeep", "<|endoftext|>"],
    token: 1,
    steps: 5,
    step: 0,
    average_steps: false,
    groups: ["down 32×32 · 2 layers", "mid 8×8 · 1 layer"],
    group: 0,
    clip: clip(jpegs, "image/jpeg"),
    heatmap: b64(heatmap),
    map_height: 8,
    map_width: 8,
    frame_max: [0.25, 0.05, 0.1, 0.2],
    heat_max: 0.25,
    scale: "frame",
    mass: [0.1, 0.2, 0.3, 0.4],
  };
  await show("CrossAttentionViewerModel", state, "viewer");
  await at("viewer", "fz-token-3").click();
  assert.equal(await get("viewer", "token"), 3);
  assert.deepEqual((await sent("viewer")).at(-1)?.state, { token: 3 });
  assert.match((await at("viewer", "fz-token-3").getAttribute("class")) ?? "", /fz-selected/);
  assert.doesNotMatch((await at("viewer", "fz-token-1").getAttribute("class")) ?? "", /fz-selected/);

  await page.waitForFunction(
    () => (globalThis as any).document.querySelector('#viewer [data-testid="fz-heatmap-3"]')?.getAttribute("data-version") !== null,
  );
  assert.equal(await at("viewer", "fz-mass-2").textContent(), "mass 0.3000");
  assert.equal(await at("viewer", "fz-heatmap-0").evaluate((c) => (c as any).width), 96);

  await slide("fz-step-slider", 3, "viewer");
  await page.waitForFunction(() => (globalThis as any).fz.sent.some((m: any) => m.id === "viewer" && m.data.state?.step === 3));
  await at("viewer", "fz-average").check();
  assert.equal(await get("viewer", "average_steps"), true);
  assert.equal(await at("viewer", "fz-step-slider").isDisabled(), true);
  await at("viewer", "fz-group").selectOption("1");
  assert.equal(await get("viewer", "group"), 1);

  // Each frame on its own scale by default; "absolute" puts every frame on 0 … heat_max (frame 1 reaches a fifth of it).
  const heat = (f: number) =>
    at("viewer", `fz-heatmap-${f}`).evaluate((c: any) => c.getContext("2d").getImageData(48, 48, 1, 1).data.join(","));
  const heatVersion = () => at("viewer", "fz-heatmap-1").getAttribute("data-version");
  assert.equal(await at("viewer", "fz-heat-max").textContent(), "each frame's max");
  const [frame0, frame1] = [await heat(0), await heat(1)];
  const drawn = await heatVersion();
  await at("viewer", "fz-scale").selectOption("absolute");
  assert.deepEqual((await sent("viewer")).at(-1)?.state, { scale: "absolute" });
  await page.waitForFunction(
    (v) => (globalThis as any).document.querySelector('#viewer [data-testid="fz-heatmap-1"]')?.dataset.version !== v,
    drawn,
  );
  assert.equal(await at("viewer", "fz-heat-max").textContent(), "0.250");
  assert.equal(await heat(0), frame0, "the frame with the clip's maximum looks the same on both scales");
  assert.notEqual(await heat(1), frame1, "a frame with less attention is dimmer on the absolute scale");

  // A new heat map from the kernel redraws the canvases.
  const version = Number(await at("viewer", "fz-heatmap-0").getAttribute("data-version"));
  await page.evaluate(() =>
    (globalThis as any).fz.models.viewer.set({ heatmap: new DataView(new Uint8Array(4 * 64).fill(255).buffer), heat_max: 0.5 }),
  );
  await page.waitForFunction(
    (v) => Number((globalThis as any).document.querySelector('#viewer [data-testid="fz-heatmap-0"]')?.getAttribute("data-version")) > v,
    version,
  );
});

test("MaskTuner: word chips, live threshold, step windows, masks with areas and the error", { skip }, async () => {
  const mask = new Uint8Array(4 * 4 * 4).map((_, i) => (i % 16 < 4 ? 1 : 0));
  const state = {
    source_prompt: "a silver jeep driving down a curvy road",
    words: ["a", "silver", "jeep", "driving", "down", "a", "curvy", "road"],
    blend_words: ["jeep"],
    threshold: 0.3,
    self_replace_steps: [0, 0.5],
    cross_replace_steps: [0, 0.8],
    blend_latents: true,
    latent_blend_steps: [0.1, 1],
    steps: 10,
    step: 0,
    clip: clip(jpegs, "image/jpeg"),
    mask: b64(mask),
    mask_height: 4,
    mask_width: 4,
    areas: [0.25, 0.25, 0.25, 0.25],
    preview_ms: 12,
    error: "",
  };
  await show("MaskTunerModel", state, "tuner");
  await at("tuner", "fz-word-1").click();
  assert.deepEqual(await get("tuner", "blend_words"), ["silver", "jeep"], "prompt order");
  await at("tuner", "fz-word-2").click();
  assert.deepEqual(await get("tuner", "blend_words"), ["silver"]);

  await slide("fz-threshold", 0.55, "tuner");
  assert.equal(await get("tuner", "threshold"), 0.55);
  await page.waitForFunction(
    () => (globalThis as any).fz.sent.some((m: any) => m.id === "tuner" && m.data.state?.threshold === 0.55),
    undefined,
    { timeout: 2000 },
  );
  await slide("fz-self-start", 0.7, "tuner");
  assert.deepEqual(await get("tuner", "self_replace_steps"), [0.7, 0.7], "a start past the end moves the end");
  await slide("fz-cross-end", 0.4, "tuner");
  assert.deepEqual(await get("tuner", "cross_replace_steps"), [0, 0.4]);
  await slide("fz-preview-step", 6, "tuner");
  assert.equal(await get("tuner", "step"), 6);
  await at("tuner", "fz-blend-latents").uncheck();
  assert.equal(await at("tuner", "fz-latent-start").isDisabled(), true);

  await page.waitForFunction(
    () => (globalThis as any).document.querySelector('#tuner [data-testid="fz-mask-3"]')?.getAttribute("data-version") !== null,
  );
  assert.equal(await at("tuner", "fz-area-0").textContent(), "25.0 %");
  assert.equal(await at("tuner", "fz-preview-ms").textContent(), "12 ms");
  assert.equal(await at("tuner", "fz-tuner-error").isVisible(), false);
  await page.evaluate(() => (globalThis as any).fz.models.tuner.set("error", "blend word 'car' is not in the source prompt"));
  assert.equal(await at("tuner", "fz-tuner-error").textContent(), "blend word 'car' is not in the source prompt");
  assert.equal(await at("tuner", "fz-tuner-error").isVisible(), true);
});

test("EditPanel: inputs save, Run and Cancel send custom messages, progress and status follow the state", { skip }, async () => {
  const state = {
    source_prompt: "a silver jeep",
    prompt: "a red jeep",
    controller: "replace",
    equalizer: [{ word: "red", value: 2 }],
    guidance_scale: 7.5,
    running: false,
    done: 0,
    total: 0,
    status: "inverted 4 frames",
    error: "",
  };
  await show("EditPanelModel", state, "panel");
  assert.equal(await at("panel", "fz-prompt").inputValue(), "a red jeep");
  assert.equal(await at("panel", "fz-controller-replace").isChecked(), true);
  await at("panel", "fz-prompt").fill("a porsche car");
  await at("panel", "fz-prompt").press("Enter");
  await at("panel", "fz-prompt").blur();
  assert.equal(await get("panel", "prompt"), "a porsche car");
  await at("panel", "fz-controller-refine").check();
  assert.equal(await get("panel", "controller"), "refine");
  await at("panel", "fz-eq-remove-0").click();
  assert.deepEqual(await get("panel", "equalizer"), []);

  assert.equal(await at("panel", "fz-cancel").isDisabled(), true);
  await at("panel", "fz-run").click();
  assert.deepEqual((await sent("panel")).at(-1), { method: "custom", content: { event: "run" } });
  await page.evaluate(() => (globalThis as any).fz.models.panel.set({ running: true, done: 3, total: 20, status: "editing 3/20" }));
  assert.equal(await at("panel", "fz-run").isDisabled(), true);
  assert.equal(await at("panel", "fz-progress").evaluate((p) => [(p as any).value, (p as any).max].join("/")), "3/20");
  assert.equal(await at("panel", "fz-status").textContent(), "editing 3/20");
  await at("panel", "fz-cancel").click();
  assert.deepEqual((await sent("panel")).at(-1), { method: "custom", content: { event: "cancel" } });
  await page.evaluate(() => (globalThis as any).fz.models.panel.set({ running: false, error: "out of memory" }));
  assert.equal(await at("panel", "fz-panel-error").textContent(), "out of memory");
});

test("VegaChart renders its vega-lite spec as SVG", { skip }, async () => {
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    data: {
      values: [
        { step: 0, ms: 40 },
        { step: 1, ms: 42 },
        { step: 2, ms: 39 },
      ],
    },
    mark: "line",
    encoding: { x: { field: "step", type: "quantitative" }, y: { field: "ms", type: "quantitative" } },
  };
  await show("VegaChartModel", { spec }, "chart");
  await page.waitForSelector('#chart [data-testid="fz-chart"] svg path', { timeout: 5000 });
  assert.equal(await at("chart", "fz-chart-error").textContent(), "");
  assert.deepEqual(errors, [], "no page errors");
});
