// The figure notebooks run end to end with our kernel on their default, the world model, through
// `fatezero figures`' runner (nbconvert/nbclient of the pinned .venv), write every figure they promise, and are stored
// without outputs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import sharp from "sharp";
import { FIGURE_NOTEBOOKS, NotebookError, runFigureNotebooks } from "../cli/figuresCommand";
import { notebookInputs } from "../widgets/figures";
import { exportHtml } from "../cli/exportHtml";
import { InputError } from "../src/util/inputError";
import { readVideo } from "../src/video/readVideo";
import { chromiumMissing, withOfflinePage } from "./support/chromium";
import { tempDir } from "./sharedData";
import { pythonMissing, ROOT } from "./support/temporaryJupyter";
import { withPythonPath } from "./support/pythonEnv";

// The pinned .venv's jupyter first on PATH, as an activated venv has it: the runner takes the first jupyter it
// finds, and a system one (Debian's) is not what these tests pin.
process.env.PATH = withPythonPath().PATH;

const MISSING = pythonMissing(["nbconvert", "nbclient"]);

/** Figures each notebook saves (charts as .svg and .png). */
const EXPECTED = {
  "quickstart.ipynb": [
    "quickstart-mask-area.svg",
    "quickstart-mask-area.png",
    "quickstart-watercolor.mp4",
    "quickstart-watercolor.gif",
    "quickstart-attribute.mp4",
    "quickstart-shape.mp4",
    "quickstart-edits.gif",
    "quickstart-stage-times.svg",
    "quickstart-stage-times.png",
  ],
  "how-fatezero-works.ipynb": [
    "works-source.png",
    "works-inversion-latents.png",
    "works-reconstructions.png",
    "works-reconstruction-error.svg",
    "works-reconstruction-error.png",
    "works-cross-attention.png",
    "works-attention-mass.svg",
    "works-attention-mass.png",
    "works-self-attention.png",
    "works-inversion-vs-reconstruction.png",
    "works-attention-mass-reconstruction.svg",
    "works-attention-mass-reconstruction.png",
    "works-blend-mask.png",
    "works-mask-area.svg",
    "works-mask-area.png",
    "works-sparse-causal.png",
    "works-stage-times.svg",
    "works-stage-times.png",
  ],
  "paper-figures.ipynb": [
    "paper-inversion-vs-reconstruction-attention.png",
    "paper-blending-mask.png",
    "paper-spatial-temporal.png",
    "paper-temporal-change.svg",
    "paper-temporal-change.png",
    "paper-edits-grid.gif",
    "paper-edits.png",
    "paper-world-bench.jsonl",
    "paper-world-bench.svg",
    "paper-world-bench.png",
    "paper-stage-times.svg",
    "paper-stage-times.png",
  ],
};

/** Environment that leaves the notebooks on their defaults (one benchmark clip), with a private cache. */
function defaultEnv(tag: string): NodeJS.ProcessEnv {
  const blank = Object.fromEntries(
    [
      "FATEZERO_MODEL",
      "FATEZERO_DEVICE",
      "FATEZERO_VIDEO",
      "FATEZERO_SOURCE",
      "FATEZERO_OBJECT",
      "FATEZERO_FRAMES",
      "FATEZERO_SIZE",
      "FATEZERO_STEPS",
      "FATEZERO_SEED",
    ].map((k) => [k, ""]),
  );
  return { ...blank, FATEZERO_BENCH_CLIPS: "1", FATEZERO_CACHE: path.join(tempDir(tag), "cache") };
}

test("stored notebooks have no outputs and use the fatezero kernelspec", () => {
  for (const name of FIGURE_NOTEBOOKS) {
    const nb = JSON.parse(fs.readFileSync(path.join(ROOT, "notebooks", name), "utf8"));
    assert.deepEqual(nb.metadata.kernelspec, { name: "fatezero", display_name: "FateZero (TypeScript)", language: "typescript" }, name);
    for (const cell of nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code")) {
      assert.equal(cell.execution_count, null, `${name}: a stored execution count`);
      assert.deepEqual(cell.outputs, [], `${name}: stored outputs`);
    }
  }
});

test("notebookInputs: the notebooks default to the world model on world clip 13; other videos need a prompt", () => {
  const dir = path.join(tempDir("inputs"), "project", "notebooks");
  const saved = { ...process.env };
  const keys = Object.keys(process.env).filter((k) => k.startsWith("FATEZERO_"));
  for (const k of keys) delete process.env[k];
  try {
    const inputs = notebookInputs(dir);
    assert.equal(inputs.video, "world:13");
    assert.equal(inputs.source, "a red car driving down a curvy road in the countryside");
    assert.equal(inputs.object, "car");
    assert.deepEqual([inputs.model, inputs.device, inputs.frames, inputs.size, inputs.steps], ["world", "cpu", 8, 128, 20]);
    process.env.FATEZERO_MODEL = "tiny";
    assert.deepEqual([notebookInputs(dir).frames, notebookInputs(dir).steps], [6, 8]);
    process.env.FATEZERO_VIDEO = "clip.mp4";
    assert.throws(() => notebookInputs(dir), /FATEZERO_VIDEO needs FATEZERO_SOURCE/);
    process.env.FATEZERO_SOURCE = "a dog on a beach";
    process.env.FATEZERO_OBJECT = "cat";
    assert.throws(() => notebookInputs(dir), /FATEZERO_OBJECT "cat" is not a word of the source prompt/);
  } finally {
    for (const k of Object.keys(process.env).filter((k) => k.startsWith("FATEZERO_"))) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

/** The executed quickstart (with its saved widget state), once the figures test has run it. */
let executedQuickstart: string | undefined;

test("fatezero figures: every notebook runs on the world model and writes every figure", { skip: MISSING }, async () => {
  const out = tempDir("figures");
  const lines: string[] = [];
  const runs = await runFigureNotebooks({ out, env: defaultEnv("figures"), log: (line) => lines.push(line) });
  assert.deepEqual(
    runs.map((r) => path.basename(r.notebook)),
    FIGURE_NOTEBOOKS,
  );
  assert.ok(
    lines.some((l) => /\[3\/3\] paper-figures\.ipynb: done in/.test(l)),
    lines.join("\n"),
  );
  executedQuickstart = runs.find((r) => path.basename(r.notebook) === "quickstart.ipynb")?.executed;
  for (const run of runs) {
    const expected = EXPECTED[path.basename(run.notebook) as keyof typeof EXPECTED].map((f) => path.join(out, f)).sort();
    assert.deepEqual(run.figures, expected);
    for (const file of run.figures) {
      const bytes = fs.readFileSync(file);
      if (file.endsWith(".svg")) assert.match(bytes.toString("utf8"), /^<svg[\s\S]*<\/svg>$/, file);
      else if (file.endsWith(".mp4")) assert.equal((await readVideo(file, { size: 128, nSampleFrame: -1 })).count, 8, file);
      else if (file.endsWith(".jsonl")) {
        const rows = bytes
          .toString("utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        assert.deepEqual([...new Set(rows.map((r) => r.edit))], ["attribute", "setting", "style", "vehicle"], file);
        assert.ok(
          rows.every(
            (r) => Number.isFinite(r.targetPsnr) && (r.edit === "setting" || r.edit === "style" || Number.isFinite(r.backgroundPsnr)),
          ),
          file,
        );
      } else {
        const meta = await sharp(bytes).metadata();
        assert.ok((meta.width ?? 0) > 0 && (meta.height ?? 0) > 0, file);
        assert.equal(meta.format, path.extname(file).slice(1), file);
      }
    }
    assert.ok(fs.existsSync(run.executed), "the executed copy is kept");
  }
});

test("fatezero figures: bad notebook inputs are refused before any kernel starts, naming the variable", async () => {
  const dir = tempDir("figure-inputs");
  const out = path.join(dir, "figures");
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ FATEZERO_MODEL: path.join(dir, "nowhere") }, /^FATEZERO_MODEL=.*nowhere: model folder .*nowhere does not exist/],
    [{ FATEZERO_VIDEO: "world:abc" }, /^FATEZERO_VIDEO: video world:abc: a world clip is world:<seed>/],
    [{ FATEZERO_VIDEO: "missing.mp4", FATEZERO_SOURCE: "a red car" }, /^FATEZERO_VIDEO=missing\.mp4: no such file or folder/],
    [{ FATEZERO_VIDEO: "missing.mp4", FATEZERO_SOURCE: "car" }, /^FATEZERO_OBJECT: give the main object word/],
    [{ FATEZERO_STEPS: "0" }, /^FATEZERO_STEPS: expected an integer in 1…1000, got "0"/],
    [{ FATEZERO_DEVICE: "tpu" }, /^FATEZERO_DEVICE: unknown device "tpu"/],
  ];
  for (const [env, message] of cases) {
    await assert.rejects(runFigureNotebooks({ out, env: { ...defaultEnv("figure-inputs"), ...env }, log: () => {} }), (e: Error) => {
      assert.ok(e instanceof InputError, `${JSON.stringify(env)}: ${e.message}`);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.ok(!fs.existsSync(out), "nothing is written");
  const cli = spawnSync(process.execPath, [path.join(ROOT, "bin/fatezero.js"), "figures", "--out", out], {
    encoding: "utf8",
    env: { ...process.env, ...defaultEnv("figure-inputs"), FATEZERO_VIDEO: "world:abc" },
  });
  assert.equal(cli.status, 2, cli.stderr);
  assert.match(cli.stderr, /^fatezero: FATEZERO_VIDEO: video world:abc/);
  assert.doesNotMatch(cli.stderr, /\n\s+at /);
});

test("fatezero figures: a failing cell is reported with its notebook and cell", { skip: MISSING }, async () => {
  const dir = tempDir("bad-notebook");
  const code = (source: string) => ({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source });
  const notebook = path.join(dir, "broken.ipynb");
  fs.writeFileSync(
    notebook,
    JSON.stringify({
      cells: [code("const ok = 1;"), { cell_type: "markdown", metadata: {}, source: "text" }, code('throw new Error("no such clip");')],
      metadata: { kernelspec: { name: "fatezero", display_name: "FateZero (TypeScript)", language: "typescript" } },
      nbformat: 4,
      nbformat_minor: 4,
    }),
  );
  await assert.rejects(runFigureNotebooks({ out: path.join(dir, "out"), notebooks: [notebook], log: () => {} }), (e: Error) => {
    assert.ok(e instanceof NotebookError);
    assert.match(e.message, /^broken\.ipynb: cell 3 of 3 failed \(it starts "throw new Error/);
    assert.match(e.message, /Error: no such clip/);
    return true;
  });
});

test("the executed quickstart exported to HTML shows its four widgets offline", { skip: MISSING || chromiumMissing() }, async () => {
  assert.ok(executedQuickstart, "the figures test ran the quickstart");
  const page = exportHtml(executedQuickstart, tempDir("quickstart-html"));
  await withOfflinePage(page, "quickstart-export", async (tab, load) => {
    for (const id of ["fz-row-0", "fz-heatmap-0", "fz-mask-0", "fz-run"])
      await tab.waitForSelector(`[data-testid="${id}"]`, { timeout: 20_000 });
    await tab.waitForFunction(
      () => ((globalThis as any).document.querySelector('[data-testid="fz-row-0"]')?.naturalWidth ?? 0) > 0,
      undefined,
      { timeout: 20_000 },
    );
    // The saved state is the last one: the shape edit's prompt and the scrubber's edit row.
    assert.match((await tab.locator('[data-testid="fz-prompt"]').inputValue()) ?? "", /truck/);
    const labels = await tab.locator('[data-testid^="fz-row-label-"]').allTextContents();
    assert.deepEqual(labels, ["source", "reconstruction", "edit"]);
    assert.equal(
      await tab.locator('[data-testid="fz-token-0"]').textContent(),
      "<|startoftext|>",
      "saved strings survive nbconvert's escaping",
    );
    assert.deepEqual(load.failedFiles, [], "every local file loads");
  });
});
