// Builds the browser bundles of the `fatezero-widgets` frontend (widgets/frontend/) with esbuild:
//   dist/widgets/embed/             AMD module + html-manager's embed-amd.js + require.js for exported HTML
//   dist/widgets/labextension/      JupyterLab 4.6 prebuilt extension (via @jupyter/builder, JupyterLab 4.6's own
//                                   extension builder, against @jupyterlab/core-meta 4.6.6: the core package
//                                   the pip-installed jupyterlab==4.6.6 is built from)
// Usage: node dist/widgets/build/bundle.js
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as esbuild from "esbuild";
import { MODULE_NAME, MODULE_VERSION } from "../shared/widgetStates";
import { EMBED_DIR, LABEXTENSION_DIR, OUT, ROOT } from "./paths";

const FRONTEND = path.join(ROOT, "widgets", "frontend");
const LAB_SOURCE_DIR = path.join(OUT, "labextension-src");
const HTML_MANAGER_DIST = path.join(ROOT, "node_modules", "@jupyter-widgets", "html-manager", "dist");

// What html-manager and its dependencies need in a browser bundle: a webpack-style public path, `global`,
// a production React/lodash build, and SVG icons as text. Their CSS is left out: our views inject their
// own, and hosts (notebook, JupyterLab) style the standard controls themselves.
const COMMON: esbuild.BuildOptions = {
  bundle: true,
  platform: "browser",
  target: "es2020",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"', global: "window" },
  banner: { js: "var __webpack_public_path__='';" },
  loader: { ".svg": "text", ".css": "empty", ".woff": "empty", ".woff2": "empty", ".ttf": "empty", ".eot": "empty" },
};

// Inside a page that has requirejs, bundled UMD code would see `define.amd` and register anonymous modules
// (requirejs then fails with "mismatched anonymous define"): hide `define` from the bundled code.
const NO_AMD = { ...COMMON.define, define: "undefined" };

/**
 * The module for html-manager's embed-amd.js: an anonymous AMD module (requirejs names it by its file,
 * fatezero-widgets.js) that takes @jupyter-widgets/base from embed-amd.js, so models and views share the
 * manager's copy of base.
 */
async function embed(): Promise<void> {
  const result = await esbuild.build({
    ...COMMON,
    define: NO_AMD,
    entryPoints: [path.join(FRONTEND, "index.ts")],
    format: "cjs",
    external: ["@jupyter-widgets/base"],
    write: false,
  });
  const code = [
    'define(["@jupyter-widgets/base"], function (base) {',
    "var module = { exports: {} }, exports = module.exports;",
    'var require = function (name) { if (name === "@jupyter-widgets/base") return base; throw new Error("' +
      MODULE_NAME +
      ': cannot load " + name); };',
    result.outputFiles[0].text,
    "return module.exports;",
    "});",
  ].join("\n");
  fs.rmSync(EMBED_DIR, { recursive: true, force: true });
  fs.mkdirSync(EMBED_DIR, { recursive: true });
  fs.writeFileSync(path.join(EMBED_DIR, `${MODULE_NAME}.js`), code);
  // embed-amd.js loads its fonts from beside itself.
  for (const file of fs.readdirSync(HTML_MANAGER_DIST)) {
    if (file === "embed-amd.js" || /\.(woff2?|ttf|eot|svg)$/.test(file))
      fs.copyFileSync(path.join(HTML_MANAGER_DIST, file), path.join(EMBED_DIR, file));
  }
  fs.copyFileSync(path.join(ROOT, "node_modules", "requirejs", "require.js"), path.join(EMBED_DIR, "require.js"));
}

/** JupyterLab's core package description (its shared singletons and their versions), as `jupyter labextension build` uses it. */
export const CORE_PACKAGE_FILE = path.join(ROOT, "node_modules", "@jupyterlab", "core-meta", "core.package.json");

/**
 * The JupyterLab extension: esbuild bundles the plugin (and vega) into one ES module with
 * @jupyter-widgets/base left external, then @jupyter/builder (what `jupyter labextension build` runs in
 * JupyterLab 4.6) turns that package into a federated prebuilt extension against JupyterLab 4.6.6's core
 * package file, pinned through @jupyterlab/core-meta in package.json.
 */
async function labextension(): Promise<void> {
  fs.rmSync(LAB_SOURCE_DIR, { recursive: true, force: true });
  await esbuild.build({
    ...COMMON,
    minify: false,
    entryPoints: [path.join(FRONTEND, "labextension.ts")],
    format: "esm",
    external: ["@jupyter-widgets/base"],
    outfile: path.join(LAB_SOURCE_DIR, "lib", "index.js"),
  });
  const base = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "@jupyter-widgets", "base", "package.json"), "utf8")) as {
    version: string;
  };
  const builderVersion = (
    JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "@jupyter", "builder", "package.json"), "utf8")) as { version: string }
  ).version;
  const pkg = {
    name: MODULE_NAME,
    version: MODULE_VERSION,
    description: "FateZero widgets for JupyterLab",
    license: "MIT",
    main: "lib/index.js",
    files: ["lib/"],
    keywords: ["jupyter", "jupyterlab", "jupyterlab-extension", "jupyter-widgets"],
    dependencies: { "@jupyter-widgets/base": `^${base.version.split(".")[0]}.0.0` },
    // The marker `jupyter labextension build` looks for; the build below runs the same script.
    devDependencies: { "@jupyter/builder": builderVersion },
    jupyterlab: {
      extension: true,
      outputDir: path.relative(LAB_SOURCE_DIR, LABEXTENSION_DIR),
      // jupyterlab_widgets provides base; a second copy would be a second widget registry.
      sharedPackages: { "@jupyter-widgets/base": { bundled: false, singleton: true } },
    },
  };
  fs.writeFileSync(path.join(LAB_SOURCE_DIR, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  const builder = path.join(ROOT, "node_modules", "@jupyter", "builder", "lib", "build-labextension.js");
  const built = spawnSync(process.execPath, [builder, "--core-package-file", CORE_PACKAGE_FILE, LAB_SOURCE_DIR], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (built.status !== 0) throw new Error(`build-labextension failed (${built.status}):\n${built.stdout}${built.stderr}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  await embed();
  await labextension();
  console.log(`widget bundles in ${path.relative(ROOT, OUT)}/ (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exitCode = 1;
  });
}
