// `fatezero widgets install`: puts the built frontend where Jupyter finds it — the prebuilt extension that
// JupyterLab 4.6 and Notebook 7 load, into <data dir>/labextensions/fatezero-widgets/, written whole
// (src/util/folderOutput.ts): only an earlier install of ours is replaced, a folder or link of the user's there
// is refused. (The classic Notebook 6 nbextension is retired: an earlier install's nbextension is removed and
// disabled.)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { installedWhere, userDataDir, type InstallOptions } from "../kernel/install";
import { walk } from "../src/util/folderManifest";
import { outputFolder, writeFolderSync } from "../src/util/folderOutput";
import { LABEXTENSION_DIR } from "../widgets/build/paths";
import { MODULE_NAME } from "../widgets/shared/widgetStates";

/** What `installWidgetsFrontend` wrote, and what it left alone. */
export interface WidgetsInstallResult {
  labextension: string;
  /** An nbextension folder at the retired nbextension's place that no install of ours wrote, kept. */
  keptNbextension?: string;
}

/** Who the labextension folder's manifest says wrote it. */
export const WIDGETS_WRITER = "fatezero widgets install";

/** The retired nbextension's require path, as earlier installs enabled it in nbconfig/notebook.json. */
export const NBEXTENSION_REQUIRE = `${MODULE_NAME}/index`;

// Jupyter's per-user config folder, honouring the variable Jupyter itself reads.
function userConfigDir(): string {
  return process.env.JUPYTER_CONFIG_DIR ? path.resolve(process.env.JUPYTER_CONFIG_DIR) : path.join(os.homedir(), ".jupyter");
}

/** install.json as this installer writes it into `labextension`. */
function installJson(labextension: string): string {
  const install = { packageManager: "npm", packageName: MODULE_NAME, uninstallInstructions: `remove ${labextension}` };
  return `${JSON.stringify(install, null, 2)}\n`;
}

/**
 * Installs before the manifest wrote the built extension (package.json naming fatezero-widgets, static/ with
 * plain files) and an install.json byte for byte what we write for that folder; anything beside them, a link,
 * or another package is the user's.
 */
function isEarlierLabextension(dir: string): boolean {
  const { files, others } = walk(dir);
  const layout = files.every((f) => f === "package.json" || f === "install.json" || /^static\/[^/]+$/.test(f));
  if (others.length > 0 || !layout || !files.includes("package.json") || !files.includes("install.json")) return false;
  if (fs.readFileSync(path.join(dir, "install.json"), "utf8") !== installJson(dir)) return false;
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown }).name === MODULE_NAME;
  } catch {
    return false;
  }
}

/** The retired nbextension's index.js began with this AMD header (its build wrapped the bundle in it). */
const NBEXTENSION_HEADER = 'define(["base/js/namespace", "notebook/js/outputarea"], function (Jupyter, outputarea) {\n';

/**
 * Remove what an earlier install wrote for the retired nbextension: its folder (only when it holds just the
 * index.js our build made, never through a link) and its nbconfig entry. Returns a folder found there that is
 * not ours, which is kept.
 */
function removeRetiredNbextension(dataDir: string, configDir: string): string | undefined {
  const folder = path.join(dataDir, "nbextensions", MODULE_NAME);
  // A folder of the user's there keeps its nbconfig entry too: it may be what that entry loads.
  if (fs.lstatSync(folder, { throwIfNoEntry: false }) && !isEarlierNbextension(folder)) return folder;
  fs.rmSync(folder, { recursive: true, force: true });
  const file = path.join(configDir, "nbconfig", "notebook.json");
  if (!fs.existsSync(file)) return undefined;
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as { load_extensions?: Record<string, boolean> };
  if (!config.load_extensions || !(NBEXTENSION_REQUIRE in config.load_extensions)) return undefined;
  delete config.load_extensions[NBEXTENSION_REQUIRE];
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return undefined;
}

function isEarlierNbextension(dir: string): boolean {
  if (!fs.lstatSync(dir).isDirectory()) return false;
  const { files, others } = walk(dir);
  if (others.length > 0 || files.length !== 1 || files[0] !== "index.js") return false;
  return fs.readFileSync(path.join(dir, "index.js"), "utf8").startsWith(NBEXTENSION_HEADER);
}

/**
 * Install the labextension. With `prefix`, it goes to <prefix>/share/jupyter (what Jupyter reads for a
 * virtualenv's sys.prefix, or with JUPYTER_PATH); otherwise to the user's data dir.
 */
export function installWidgetsFrontend(options: InstallOptions = {}): WidgetsInstallResult {
  if (options.user && options.prefix !== undefined) throw new Error("widgets install: choose --user or --prefix, not both");
  if (!fs.existsSync(path.join(LABEXTENSION_DIR, "package.json")))
    throw new Error(`the widget bundles are not built (${path.dirname(LABEXTENSION_DIR)}): run npm run build`);
  const prefix = options.prefix !== undefined ? path.resolve(options.prefix) : undefined;
  const dataDir = prefix ? path.join(prefix, "share", "jupyter") : userDataDir();
  const configDir = prefix ? path.join(prefix, "etc", "jupyter") : userConfigDir();
  // JupyterLab 4 finds a prebuilt extension in <data dir>/labextensions/<package name>/; install.json says
  // how it got there (`jupyter labextension list` shows it).
  const labextension = path.join(dataDir, "labextensions", MODULE_NAME);
  const out = outputFolder(labextension, installedWhere(options, "the labextension folder"), WIDGETS_WRITER, {
    earlier: isEarlierLabextension,
    advice: "not replaced: move it away, or install with --prefix elsewhere",
  });
  const keptNbextension = removeRetiredNbextension(dataDir, configDir);
  writeFolderSync(out, (staging) => {
    fs.cpSync(LABEXTENSION_DIR, staging, { recursive: true });
    fs.writeFileSync(path.join(staging, "install.json"), installJson(labextension));
  });
  return { labextension, keptNbextension };
}

/** The CLI action: install and print what was written. */
export function widgetsInstallCommand(options: InstallOptions): void {
  const result = installWidgetsFrontend(options);
  if (result.keptNbextension)
    console.error(`note: ${result.keptNbextension} is not the retired nbextension an earlier install wrote; left as it is`);
  console.log(`labextension: ${result.labextension} (JupyterLab 4.6 / Notebook 7: restart the server to load it)`);
}
