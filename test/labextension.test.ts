// The JupyterLab 4 prebuilt extension. JupyterLab cannot be installed here, so the test does what JupyterLab
// does with it: read jupyterlab._build from its package.json, load the federated remoteEntry in Chromium
// with a share scope that provides @jupyter-widgets/base, get './extension', and activate the plugin with a
// recording widget registry. The registered classes then render a view through html-manager.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { chromiumMissing, launchChromium, pageErrors, screenshot, serveStatic } from "./support/chromium";
import { tempDir } from "./sharedData";

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
