// `fatezero export-html`: a notebook to a standalone HTML page whose saved widget state renders offline.
// nbconvert writes the page; the page loads require.js and html-manager's embed-amd.js from a folder
// beside it, and requirejs finds our AMD module fatezero-widgets.js beside the page (its base URL).
// The folder stays the user's: the page and the module replace only files an earlier export wrote
// (src/util/fileRecord.ts), the script folder only an earlier export's (src/util/folderOutput.ts); all is
// checked before nbconvert runs, which writes into a scratch folder.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EMBED_DIR } from "../widgets/build/paths";
import { MODULE_NAME } from "../widgets/shared/widgetStates";
import { checkReplaceable, recordFiles } from "../src/util/fileRecord";
import { walk } from "../src/util/folderManifest";
import { checkFolderPath, outputFolder, writeFolderSync } from "../src/util/folderOutput";
import { InputError } from "../src/util/inputError";
import { findJupyterNbconvert, JUPYTER_INSTALL_HINT } from "./jupyterCommand";

/** The folder beside the page that holds require.js, embed-amd.js and its fonts. */
export const ASSETS_FOLDER = "jupyter-widgets";

/** Who the page, the module and the script folder are recorded as written by. */
export const EXPORT_WRITER = "fatezero export-html";

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
  const what = outDir !== undefined ? `--out ${outDir}` : "export-html";
  checkFolderPath(out, what);
  const page = path.join(out, `${path.basename(source, path.extname(source))}.html`);
  if (page === source) throw new InputError(`export-html: the page would be ${page}, the notebook itself; rename the notebook`);
  const moduleFile = path.join(out, `${MODULE_NAME}.js`);
  checkReplaceable(page, EXPORT_WRITER, what);
  // Exports before the record wrote the same module and scripts: identical bytes are replaced (nothing is lost).
  checkReplaceable(moduleFile, EXPORT_WRITER, what, path.join(EMBED_DIR, `${MODULE_NAME}.js`));
  const assets = outputFolder(path.join(out, ASSETS_FOLDER), `${what}: the script folder`, EXPORT_WRITER, {
    earlier: isEarlierAssets,
    advice: "move it away, or give another --out",
  });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-export-"));
  try {
    const args = [
      "nbconvert",
      "--to",
      "html",
      "--output-dir",
      scratch,
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
    writeFolderSync(assets, (staging) => {
      for (const file of embedAssets()) fs.copyFileSync(path.join(EMBED_DIR, file), path.join(staging, file));
    });
    replaceFile(moduleFile, fs.readFileSync(path.join(EMBED_DIR, `${MODULE_NAME}.js`)));
    replaceFile(page, unescapeWidgetJson(fs.readFileSync(path.join(scratch, path.basename(page)), "utf8")));
    recordFiles([page, moduleFile], EXPORT_WRITER);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return page;
}

/** The files of the script folder: everything the embed build made but our module, which goes beside the page. */
function embedAssets(): string[] {
  return fs.readdirSync(EMBED_DIR).filter((f) => f !== `${MODULE_NAME}.js`);
}

/** A script folder from an export before the manifest: only files of this build's, byte-identical. */
function isEarlierAssets(dir: string): boolean {
  const { files, others } = walk(dir);
  const ours = new Set(embedAssets());
  return (
    others.length === 0 &&
    files.every((f) => ours.has(f) && fs.readFileSync(path.join(dir, f)).equals(fs.readFileSync(path.join(EMBED_DIR, f))))
  );
}

/** Write `file` under a temporary name beside it, then rename it into place (a failed write leaves the old one). */
function replaceFile(file: string, data: string | Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
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
