// Chart specs carry the data they were built from, render to SVG with marks and axis titles and to a PNG of
// the right size, and the VegaChart widget model sends its spec over the widget protocol.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import sharp from "sharp";
import type { InversionKey } from "../src/fatezero/inversionRecord";
import { makeSampleClip } from "../src/world/sampleClip";
import {
  attentionMassChart,
  chartValues,
  frameChangeChart,
  maskAreaChart,
  reconstructionErrorChart,
  reconstructionErrors,
  renderChart,
  stageTimeChart,
} from "../widgets/charts";
import { filmstripPng, heatmapClip, saveFigure } from "../widgets/figures";
import { VegaChart } from "../widgets/kernelSide";
import { MODULE_NAME, MODULE_VERSION, WIDGETS } from "../widgets/shared/widgetStates";
import { FakeCommManager } from "./support/fakeComms";
import { tempDir } from "./sharedData";

const key = { frameCount: 2, steps: 2 } as InversionKey;

/** Maps [F=2, L=2, T=3] whose token t gets `weights[t]` everywhere. */
function constantMaps(weights: number[]): Float32Array {
  return Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => weights[i % 3]);
}

test("attentionMassChart: one row per step and token (start token left out), head-weighted over groups", () => {
  const group = (heads: number) => ({ place: "up" as const, level: 0, height: 1, width: 2, layers: 1, heads });
  const maps = {
    tokens: 3,
    groups: [
      { group: group(1), steps: [constantMaps([0.5, 0.3, 0.2]), constantMaps([0.5, 0.1, 0.4])] },
      { group: group(3), steps: [constantMaps([0.5, 0.1, 0.4]), constantMaps([0.5, 0.1, 0.4])] },
    ],
  };
  const spec = attentionMassChart(maps, ["<|startoftext|>", "car", "<|endoftext|>"]);
  const rows = chartValues(spec) as { step: number; token: string; mass: number }[];
  assert.deepEqual(
    rows.map((r) => [r.step, r.token]),
    [
      [0, "1: car"],
      [0, "2: <|endoftext|>"],
      [1, "1: car"],
      [1, "2: <|endoftext|>"],
    ],
  );
  assert.ok(Math.abs(rows[0].mass - (0.3 * 1 + 0.1 * 3) / 4) < 1e-6);
  assert.ok(Math.abs(rows[2].mass - 0.1) < 1e-6);
  assert.equal((spec.mark as { type: string }).type, "line");
});

test("maskAreaChart: area per frame and threshold from the blend words' normalised attention", () => {
  // Frame 0: the blend token's attention is 1 at one of 4 positions, 0.5 elsewhere; frame 1: uniform.
  const maps = new Float32Array(2 * 4 * 77); // [F, h·w, 77]
  [1, 0.5, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2].forEach((v, r) => (maps[r * 77 + 3] = v));
  const alpha = new Float32Array(77);
  alpha[3] = 1;
  // With 3×3 max-pooling on a 1×4 strip the peak spreads to its neighbour: frame 0 normalises to [1, 1, 0.5, 0.5].
  const record = { key, maskMaps: { height: 1, width: 4, heads: 1, tokens: 77, steps: [maps, maps] } };
  const rows = chartValues(maskAreaChart(record, alpha, { thresholds: [0, 0.7] })) as { frame: number; threshold: number; area: number }[];
  assert.deepEqual(rows, [
    { frame: 0, threshold: 0, area: 1 },
    { frame: 1, threshold: 0, area: 1 },
    { frame: 0, threshold: 0.7, area: 0.5 },
    { frame: 1, threshold: 0.7, area: 1 },
  ]);
});

test("reconstructionErrors compare step i with the inverted latent at the same noise level", () => {
  const latents = [Float32Array.of(1, 0), Float32Array.of(0, 2), Float32Array.of(3, 4)]; // z0, z1, z2
  const step = (...v: number[]) => ({ data: Float32Array.from(v), shape: [1, 1, 1, 2] as [number, number, number, number] });
  const errors = reconstructionErrors({ latents }, [step(0, 1), step(1, 0)]);
  assert.deepEqual(
    errors.map((e) => [e.step, e.level]),
    [
      [1, 1],
      [2, 0],
    ],
  );
  assert.ok(Math.abs(errors[0].error - 0.5) < 1e-7);
  assert.equal(errors[1].error, 0);
  const spec = reconstructionErrorChart([{ label: "guidance 1", errors }]);
  assert.deepEqual(
    (chartValues(spec) as { run: string }[]).map((r) => r.run),
    ["guidance 1", "guidance 1"],
  );
});

test("stageTimeChart and frameChangeChart carry their data", () => {
  assert.deepEqual(chartValues(stageTimeChart({ invert: 2.5, edit: 4 })), [
    { stage: "invert", seconds: 2.5 },
    { stage: "edit", seconds: 4 },
  ]);
  const clip = makeSampleClip(3, 16);
  const rows = chartValues(frameChangeChart([{ label: "sample", clip }])) as { frame: number; change: number }[];
  assert.deepEqual(
    rows.map((r) => r.frame),
    [0, 1],
  );
  assert.ok(rows.every((r) => r.change > 0));
});

test("renderChart: SVG with marks and axis titles; PNG of the SVG's size × scale", async () => {
  const spec = stageTimeChart({ load: 0.5, invert: 2.5, edit: 4 });
  const svg = await renderChart(spec, "svg");
  assert.match(svg, /^<svg[^>]* width="(\d+)" height="(\d+)"/);
  assert.match(svg, /mark-rect/);
  assert.match(svg, />seconds</);
  assert.match(svg, />stage</);
  assert.match(svg, />Time per pipeline stage</);
  const [, width, height] = /width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
  const png = await renderChart(spec, "png", { scale: 2 });
  assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ["png", 2 * width, 2 * height]);
});

test("VegaChart opens with the fatezero-widgets identity and its spec; setSpec sends an update", () => {
  const comms = new FakeCommManager();
  const spec = stageTimeChart({ edit: 1 });
  const chart = new VegaChart(spec, { comms });
  const open = comms.opened[0];
  const state = open.data.state as Record<string, unknown>;
  assert.equal(state._model_name, WIDGETS.vegaChart.model);
  assert.equal(state._view_name, WIDGETS.vegaChart.view);
  assert.equal(state._model_module, MODULE_NAME);
  assert.equal(state._view_module, MODULE_NAME);
  assert.equal(state._model_module_version, MODULE_VERSION);
  assert.deepEqual(state.spec, spec);
  const next = stageTimeChart({ edit: 2 });
  chart.setSpec(next);
  const updates = comms.comm(chart.modelId).sentWith("update");
  assert.equal(updates.length, 1);
  assert.deepEqual((updates[0].data.state as Record<string, unknown>).spec, next);
});

test("figures: saveFigure writes into FATEZERO_FIGURES_DIR; filmstrip and heatmap images have the expected sizes", async () => {
  const dir = tempDir("charts");
  const previous = process.env.FATEZERO_FIGURES_DIR;
  process.env.FATEZERO_FIGURES_DIR = dir;
  try {
    const clip = makeSampleClip(3, 32);
    const heat = heatmapClip(
      Float32Array.from({ length: 3 * 16 }, (_, i) => i),
      3,
      4,
      4,
      { over: clip },
    );
    assert.deepEqual([heat.count, heat.height, heat.width], [3, 32, 32]);
    const png = await filmstripPng(
      [
        { label: "source", clip },
        { label: "heat", clip: heat },
      ],
      { tile: 40, labelWidth: 100, gap: 4 },
    );
    const file = saveFigure("strip.png", png);
    assert.equal(file, path.join(dir, "strip.png"));
    const meta = await sharp(fs.readFileSync(file)).metadata();
    assert.deepEqual([meta.width, meta.height], [100 + 3 * 44, 2 * 44 - 4]);
    assert.throws(() => saveFigure("../outside.png", png), /inside the figures folder/);
  } finally {
    if (previous === undefined) delete process.env.FATEZERO_FIGURES_DIR;
    else process.env.FATEZERO_FIGURES_DIR = previous;
  }
});
