// Saved widget state offline: a notebook executed headlessly with our kernel (nbclient stores the widget
// state in its metadata), exported by `fatezero export-html`, opened from file:// with every network
// request refused — the FrameScrubber and a VegaChart must render from the files beside the page.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { carTurnFrames, chromiumMissing, SCRUBBER_CELL, tsNotebook, withOfflinePage } from "./support/chromium";
import { pythonMissing, run, temporaryJupyter } from "./support/temporaryJupyter";
import { unescapeWidgetJson } from "../cli/exportHtml";
import { SHARED } from "./sharedData";

const BIN = path.resolve(__dirname, "../../bin/fatezero.js");

const CHART_CELL = `const chart = new WidgetModel({ ...names, _model_name: "VegaChartModel", _view_name: "VegaChartView",
  spec: { data: { values: [{ step: 0, ms: 40 }, { step: 1, ms: 43 }, { step: 2, ms: 38 }] }, mark: "bar", encoding: { x: { field: "step", type: "ordinal" }, y: { field: "ms", type: "quantitative" } } } });
chart.display();`;

test("export-html: nbconvert's HTML-escaped widget JSON is turned back into the same strings", () => {
  const escaped =
    '<script type="application/vnd.jupyter.widget-state+json">\n{"tokens": ["&lt;|startoftext|&gt;", "a &amp; b"]}\n</script>';
  const fixed = unescapeWidgetJson(escaped);
  const json = fixed.slice(fixed.indexOf(">") + 1, fixed.lastIndexOf("</script>"));
  assert.deepEqual(JSON.parse(json), { tokens: ["<|startoftext|>", "a & b"] });
  assert.ok(!json.includes("<"), "no raw angle bracket inside the script");
  const plain = '<script type="application/vnd.jupyter.widget-state+json">{"html": "<b>&lt;</b>"}</script>';
  assert.equal(unescapeWidgetJson(plain), plain, "unescaped JSON (raw brackets) is left alone");
});

test("export-html: a missing notebook is a clear input error", () => {
  const r = spawnSync(process.execPath, [BIN, "export-html", "no-such-notebook.ipynb"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no notebook at .*no-such-notebook\.ipynb/);
});

test(
  "export-html: a notebook nbconvert cannot read is a clear input error, and the folder is left as it was",
  { skip: pythonMissing(["nbconvert"]) },
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "export-bad-"));
    const notebook = path.join(dir, "future.ipynb");
    fs.writeFileSync(notebook, JSON.stringify({ cells: [], metadata: {}, nbformat: 99, nbformat_minor: 0 }));
    const r = spawnSync(process.execPath, [BIN, "export-html", notebook], { encoding: "utf8" });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^fatezero: export-html: nbconvert could not convert .*future\.ipynb: .*Unsupported nbformat version 99\n$/);
    assert.deepEqual(fs.readdirSync(dir), ["future.ipynb"]);
    fs.rmSync(dir, { recursive: true });
  },
);

test("export-html: saved FrameScrubber and VegaChart render offline from file://", { skip: chromiumMissing() }, async () => {
  const { env, notebooks } = temporaryJupyter("widget-export");
  (await carTurnFrames(path.join(SHARED, "data"), 4, 96, "jpeg")).forEach((jpeg, i) =>
    fs.writeFileSync(path.join(notebooks, `frame${i}.jpg`), jpeg),
  );
  fs.writeFileSync(path.join(notebooks, "widgets.ipynb"), tsNotebook([SCRUBBER_CELL, CHART_CELL]));
  const executed = await run(
    "jupyter",
    ["nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb", "widgets.ipynb"],
    notebooks,
    env,
    60_000,
  );
  assert.equal(executed.code, 0, executed.output);
  const saved = JSON.parse(fs.readFileSync(path.join(notebooks, "executed.ipynb"), "utf8"));
  const state = saved.metadata.widgets["application/vnd.jupyter.widget-state+json"].state;
  assert.deepEqual(
    Object.values(state)
      .map((m: any) => m.model_name)
      .sort(),
    ["FrameScrubberModel", "VegaChartModel"],
  );

  const out = path.join(notebooks, "html");
  const exported = await run(process.execPath, [BIN, "export-html", "executed.ipynb", "--out", out], notebooks, env, 60_000);
  assert.equal(exported.code, 0, exported.output);
  const page = path.join(out, "executed.html");
  assert.equal(exported.output.trim().split("\n").at(-1), page);
  const html = fs.readFileSync(page, "utf8");
  assert.ok(html.includes('<script src="jupyter-widgets/require.js">'), "require.js from beside the page");
  assert.ok(html.includes("'jupyter-widgets/embed-amd.js'"), "embed-amd.js from beside the page");
  assert.ok(fs.existsSync(path.join(out, "fatezero-widgets.js")));

  await withOfflinePage(page, "widget-export", async (tab, load) => {
    await tab.waitForFunction(
      () => (globalThis as any).document.querySelector('[data-testid="fz-row-0"]')?.naturalWidth === 96,
      undefined,
      { timeout: 20_000 },
    );
    await tab.waitForSelector('[data-testid="fz-chart"] svg', { timeout: 10_000 });
    assert.equal(await tab.locator('[data-testid="fz-row-label-0"]').textContent(), "source");
    assert.equal(await tab.locator('[data-testid="fz-frame-slider"]').getAttribute("max"), "3");
    assert.deepEqual(load.failedFiles, [], "every local file loads");
    assert.ok(!load.blocked.some((url) => /jsdelivr|unpkg/.test(url)), `no widget module from a CDN: ${load.blocked.join(", ")}`);
  });
});
