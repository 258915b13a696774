// The JupyterLab 4.6 prebuilt extension, in isolation: read jupyterlab._build from its package.json, load the
// federated remoteEntry in Chromium with a share scope that provides @jupyter-widgets/base, get './extension',
// and activate the plugin with a recording widget registry; the registered classes then render a view through
// html-manager. And its shared modules against the pip-installed JupyterLab (.venv): it was built against the
// core package of the JupyterLab version pinned for users, and every module it takes from the page is
// provided there in a version its range accepts. (The extension loading in the real Lab and Notebook 7 is
// labStudio, widgetNotebook and jupyterInstall.)
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { chromiumMissing, launchChromium, pageErrors, screenshot, serveStatic } from "./support/chromium";
import { tempDir } from "./sharedData";
import { pythonMissing, PYTHON } from "./support/pythonEnv";
import { spawnSync } from "node:child_process";

const WIDGETS = path.resolve(__dirname, "..", "widgets");
const LAB = path.join(WIDGETS, "labextension");

test(
  "labextension: build-labextension output registers fatezero-widgets with IJupyterWidgetRegistry",
  { skip: chromiumMissing() },
  async () => {
    // npm run build (which npm test runs first) builds it.
    const pkg = JSON.parse(fs.readFileSync(path.join(LAB, "package.json"), "utf8"));
    assert.equal(pkg.name, "fatezero-widgets");
    assert.equal(pkg.jupyterlab._build.extension, "./extension");
    const entry = pkg.jupyterlab._build.load as string;
    assert.match(entry, /^static\/remoteEntry\.[0-9a-f]+\.js$/);
    assert.ok(fs.existsSync(path.join(LAB, entry)), `${entry} exists`);

    // A page beside the built folders: embed/ has requirejs and html-manager (which defines base).
    const root = tempDir("labextension");
    for (const dir of ["embed", "labextension"]) fs.symlinkSync(path.join(WIDGETS, dir), path.join(root, dir));
    fs.writeFileSync(
      path.join(root, "index.html"),
      `<!doctype html><script src="embed/require.js"></script><script src="embed/embed-amd.js"></script><script src="labextension/${entry}"></script><body></body>`,
    );
    const server = await serveStatic(root);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors = pageErrors(page);
      await page.goto(`${server.url}index.html`);
      const result = await page.evaluate(async () => {
        const w = globalThis as any;
        const load = (name: string) => new Promise<any>((resolve, reject) => w.require([name], resolve, reject));
        const base = await load("@jupyter-widgets/base");
        const container = w._JUPYTERLAB["fatezero-widgets"];
        // What JupyterLab's share scope holds for jupyterlab_widgets' copy of base.
        await container.init({
          "@jupyter-widgets/base": { "6.0.12": { get: () => Promise.resolve(() => base), loaded: 1, from: "jupyterlab_widgets" } },
        });
        const plugin = (await container.get("./extension"))().default;
        const registered: any[] = [];
        plugin.activate({}, { registerWidget: (data: any) => registered.push(data) });
        const exports = registered[0]?.exports ?? {};
        // The registered classes work in a widget manager: render a FrameScrubber without frames.
        const hm = await load("@jupyter-widgets/html-manager");
        const manager = new hm.HTMLManager({ loader: async () => exports });
        const comm = {
          comm_id: "lab",
          target_name: "jupyter.widget",
          open: () => "",
          send: () => "",
          close: () => "",
          on_msg() {},
          on_close() {},
        };
        const model = await manager.new_model(
          { model_name: "FrameScrubberModel", model_module: "fatezero-widgets", model_module_version: "0.1.0", model_id: "lab", comm },
          {
            title: "from the labextension",
            rows: [{ label: "empty", clip: { mime: "image/png", width: 8, height: 8, frames: [] } }],
            frame_count: 1,
          },
        );
        const el = w.document.createElement("div");
        w.document.body.append(el);
        await manager.display_view(await manager.create_view(model), el);
        return {
          id: plugin.id,
          autoStart: plugin.autoStart,
          requiresRegistry: plugin.requires.length === 1 && plugin.requires[0] === base.IJupyterWidgetRegistry,
          registered: registered.map((r) => ({ name: r.name, version: r.version, exports: Object.keys(r.exports).sort() })),
          sharesBase: Object.keys(exports)
            .filter((k) => k.endsWith("Model"))
            .every((k) => exports[k].prototype instanceof base.DOMWidgetModel),
          label: w.document.querySelector('[data-testid="fz-row-label-0"]')?.textContent,
        };
      });
      await screenshot(page, "labextension");
      assert.equal(result.id, "fatezero-widgets:plugin");
      assert.equal(result.autoStart, true);
      assert.ok(result.requiresRegistry, "the plugin requires the shared IJupyterWidgetRegistry token");
      const names = ["CrossAttentionViewer", "EditPanel", "FrameScrubber", "MaskTuner", "VegaChart"];
      assert.deepEqual(result.registered, [
        { name: "fatezero-widgets", version: "0.1.0", exports: names.flatMap((n) => [`${n}Model`, `${n}View`]).sort() },
      ]);
      assert.ok(result.sharesBase, "models extend the shared @jupyter-widgets/base, not a bundled copy");
      assert.equal(result.label, "empty");
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.close();
    }
  },
);

/** Whether `version` satisfies a caret or tilde range as webpack/rspack module federation writes them (^x.y.z, ~x.y.z). */
function satisfies(version: string, range: string): boolean {
  const m = /^([~^])(\d+)\.(\d+)\.(\d+)$/.exec(range);
  assert.ok(m, `a range this check understands: ${range}`);
  const [major, minor, patch] = version.split(/[.-]/).map(Number);
  const [lo, hi] = [
    [Number(m[2]), Number(m[3]), Number(m[4])],
    m[1] === "^" ? [Number(m[2]) + 1, 0, 0] : [Number(m[2]), Number(m[3]) + 1, 0],
  ];
  const cmp = (a: number[], b: number[]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  return cmp([major, minor, patch], lo) >= 0 && cmp([major, minor, patch], hi) < 0;
}

test(
  "labextension: built against the pinned JupyterLab's core; each shared module is provided by the pip-installed Lab in a version it accepts",
  { skip: pythonMissing(["jupyterlab", "jupyterlab_widgets"]) },
  () => {
    const py = spawnSync(
      PYTHON,
      [
        "-c",
        "import json, sys, jupyterlab; from jupyterlab.commands import get_app_dir; print(json.dumps({'version': jupyterlab.__version__, 'prefix': sys.prefix, 'app': get_app_dir()}))",
      ],
      { encoding: "utf8" },
    );
    assert.equal(py.status, 0, py.stderr);
    const lab = JSON.parse(py.stdout) as { version: string; prefix: string; app: string };
    // The core package the extension is built against is the installed JupyterLab's (package.json and
    // python/requirements-jupyter.txt pin the same version).
    const core = JSON.parse(
      fs.readFileSync(path.resolve(__dirname, "..", "..", "node_modules/@jupyterlab/core-meta/core.package.json"), "utf8"),
    );
    assert.equal(
      core.version,
      lab.version,
      "@jupyterlab/core-meta (package.json) and jupyterlab (requirements-jupyter.txt) are the same version",
    );
    const staging = JSON.parse(fs.readFileSync(path.join(lab.app, "static", "package.json"), "utf8"));
    assert.equal(staging.version, lab.version);

    // What the page provides: the core's singletons (Lab's static package.json, resolutions) and what each
    // installed prebuilt extension's remoteEntry provides ("name",version:"x.y.z",factory).
    const provided = new Map<string, Set<string>>();
    const provide = (name: string, version: string) => provided.set(name, (provided.get(name) ?? new Set()).add(version));
    for (const [name, version] of Object.entries(staging.resolutions as Record<string, string>))
      provide(name, version.replace(/^[~^]/, ""));
    const labextensions = path.join(lab.prefix, "share", "jupyter", "labextensions");
    const entries = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((d) =>
          d.isDirectory() ? entries(path.join(dir, d.name)) : /^remoteEntry\.[0-9a-f]+\.js$/.test(d.name) ? [path.join(dir, d.name)] : [],
        );
    for (const file of entries(labextensions)) {
      for (const m of fs.readFileSync(file, "utf8").matchAll(/"(@?[\w./-]+)",version:"([\d.]+[\w.-]*)",factory/g)) provide(m[1], m[2]);
    }
    assert.ok(
      provided.get("@jupyter-widgets/base")?.size,
      `jupyterlab_widgets provides @jupyter-widgets/base: ${[...provided.keys()].length} modules seen`,
    );

    // What ours requires from the page.
    const pkg = JSON.parse(fs.readFileSync(path.join(LAB, "package.json"), "utf8"));
    const remote = fs.readFileSync(path.join(LAB, pkg.jupyterlab._build.load), "utf8");
    const required = [
      ...remote.matchAll(/"(@?[\w./-]+)",import:[^,]+,requiredVersion:"([^"]+)",strictVersion:[^,]+,singleton:(!0|!1|true|false)/g),
    ].map((m) => ({ name: m[1], range: m[2], singleton: m[3] === "!0" || m[3] === "true" }));
    assert.deepEqual(
      required.map((r) => r.name),
      ["@jupyter-widgets/base"],
      "the extension shares exactly the modules it imports from the page",
    );
    for (const r of required) {
      assert.ok(r.singleton, `${r.name} is shared as a singleton`);
      const versions = [...(provided.get(r.name) ?? [])];
      assert.ok(
        versions.length > 0 && versions.every((v) => satisfies(v, r.range)),
        `${r.name}: required ${r.range}, the installed Lab provides ${versions.join(", ") || "nothing"}`,
      );
    }
  },
);
