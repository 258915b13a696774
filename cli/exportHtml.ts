// `fatezero export-html`: a notebook to a standalone HTML page whose saved widget state renders offline.
// nbconvert writes the page; the page loads require.js and html-manager's embed-amd.js from a folder
// beside it, and requirejs finds our AMD module fatezero-widgets.js beside the page (its base URL).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { EMBED_DIR } from "../widgets/build/paths";
import { MODULE_NAME } from "../widgets/shared/widgetStates";
import { InputError } from "../src/util/inputError";
import { findJupyterNbconvert, JUPYTER_INSTALL_HINT } from "./jupyterCommand";

/** The folder beside the page that holds require.js, embed-amd.js and its fonts. */
export const ASSETS_FOLDER = "jupyter-widgets";

/** Convert `notebook` to HTML in `outDir` (default: the notebook's folder); returns the page's path. */
export function exportHtml(notebook: string, outDir?: string): string {
  const source = path.resolve(notebook);
  if (!fs.existsSync(source) || !fs.statSync(source).isFile()) throw new InputError(`export-html: no notebook at ${source}`);
  if (!isNotebook(fs.readFileSync(source, "utf8")))
    throw new InputError(`export-html: ${source} is not a notebook (JSON with a cells list)`);
  if (!fs.existsSync(path.join(EMBED_DIR, `${MODULE_NAME}.js`)))
    throw new Error(`the widget bundles are not built (${EMBED_DIR}): run npm run build`);
  const jupyter = findJupyterNbconvert();
  if (!jupyter) throw new Error(`export-html needs nbconvert: ${JUPYTER_INSTALL_HINT}`);
  const out = path.resolve(outDir ?? path.dirname(source));
  const args = [
    "nbconvert",
    "--to",
    "html",
    "--output-dir",
    out,
    `--HTMLExporter.widget_renderer_url=${ASSETS_FOLDER}/embed-amd.js`,
    `--HTMLExporter.require_js_url=${ASSETS_FOLDER}/require.js`,
    source,
  ];
  const run = spawnSync(jupyter, args, { encoding: "utf8" });
  if (run.error) throw new Error(`jupyter nbconvert: ${run.error.message}`);
  // nbconvert's traceback ends with what it found wrong in the notebook (e.g. an unsupported nbformat).
  if (run.status !== 0)
    throw new InputError(
      `export-html: nbconvert could not convert ${source}: ${run.stderr.trim().split("\n").at(-1) ?? `exit ${run.status}`}`,
    );
  // The page's scripts go beside it only once there is a page (a failed export leaves the folder as it was).
  const assets = path.join(out, ASSETS_FOLDER);
  fs.mkdirSync(assets, { recursive: true });
  for (const file of fs.readdirSync(EMBED_DIR)) {
    fs.copyFileSync(path.join(EMBED_DIR, file), file === `${MODULE_NAME}.js` ? path.join(out, file) : path.join(assets, file));
  }
  const page = path.join(out, `${path.basename(source, path.extname(source))}.html`);
  fs.writeFileSync(page, unescapeWidgetJson(fs.readFileSync(page, "utf8")));
  return page;
}

const WIDGET_JSON_SCRIPT = /(<script type="application\/vnd\.jupyter\.widget-(?:state|view)\+json">)([\s\S]*?)(<\/script>)/g;

/**
 * nbconvert 6 HTML-escapes the widget JSON it puts in <script> tags, which html-manager parses as is: a
 * token chip "<|startoftext|>" would show as "&lt;|startoftext|&gt;". Where a script holds entities and no
 * raw angle brackets (so it was escaped), undo that and write <, > and & as JSON \u escapes instead, which
 * parse to the same strings and cannot end the script early.
 */
export function unescapeWidgetJson(html: string): string {
  return html.replace(WIDGET_JSON_SCRIPT, (whole, open: string, json: string, close: string) => {
    if (/[<>]/.test(json) || !/&(lt|gt|amp);/.test(json)) return whole;
    const raw = json.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    return open + raw.replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026") + close;
  });
}

/** Whether `text` is a notebook: JSON with a cells list. */
export function isNotebook(text: string): boolean {
  try {
    return Array.isArray((JSON.parse(text) as { cells?: unknown }).cells);
  } catch {
    return false;
  }
}
