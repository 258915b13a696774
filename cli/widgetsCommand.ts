// `fatezero widgets install`: puts the built frontend where Jupyter finds it — the classic notebook
// extension into <data dir>/nbextensions/fatezero-widgets/ (enabled in the matching nbconfig), and the
// JupyterLab prebuilt extension into <data dir>/labextensions/fatezero-widgets/.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { userDataDir, type InstallOptions } from "../kernel/install";
import { LABEXTENSION_DIR, NBEXTENSION_DIR } from "../widgets/build/paths";
import { MODULE_NAME } from "../widgets/shared/widgetStates";

/** What `installWidgetsFrontend` wrote. */
export interface WidgetsInstallResult {
  nbextension: string;
  nbconfig: string;
  labextension: string;
}

/** The nbextension's require path, as enabled in nbconfig/notebook.json. */
export const NBEXTENSION_REQUIRE = `${MODULE_NAME}/index`;

// Jupyter's per-user config folder, honouring the variable Jupyter itself reads.
function userConfigDir(): string {
  return process.env.JUPYTER_CONFIG_DIR ? path.resolve(process.env.JUPYTER_CONFIG_DIR) : path.join(os.homedir(), ".jupyter");
}

function copyFresh(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true });
}

/** Add `fatezero-widgets/index` to the notebook section's load_extensions, keeping everything else. */
function enableNbextension(configDir: string): string {
  const file = path.join(configDir, "nbconfig", "notebook.json");
  const config = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  const extensions = (config.load_extensions ?? {}) as Record<string, boolean>;
  config.load_extensions = { ...extensions, [NBEXTENSION_REQUIRE]: true };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/**
 * Install the nbextension and the labextension. With `prefix`, data goes to <prefix>/share/jupyter and the
 * nbconfig to <prefix>/etc/jupyter (what Jupyter reads for a virtualenv's sys.prefix, or with
 * JUPYTER_CONFIG_PATH); otherwise to the user's data and config dirs.
 */
export function installWidgetsFrontend(options: InstallOptions = {}): WidgetsInstallResult {
  if (options.user && options.prefix !== undefined) throw new Error("widgets install: choose --user or --prefix, not both");
  if (!fs.existsSync(path.join(NBEXTENSION_DIR, "index.js")) || !fs.existsSync(path.join(LABEXTENSION_DIR, "package.json")))
    throw new Error(`the widget bundles are not built (${path.dirname(NBEXTENSION_DIR)}): run npm run build`);
  const prefix = options.prefix !== undefined ? path.resolve(options.prefix) : undefined;
  const dataDir = prefix ? path.join(prefix, "share", "jupyter") : userDataDir();
  const configDir = prefix ? path.join(prefix, "etc", "jupyter") : userConfigDir();
  const nbextension = path.join(dataDir, "nbextensions", MODULE_NAME);
  copyFresh(NBEXTENSION_DIR, nbextension);
  // JupyterLab 4 finds a prebuilt extension in <data dir>/labextensions/<package name>/; install.json says
  // how it got there (`jupyter labextension list` shows it).
  const labextension = path.join(dataDir, "labextensions", MODULE_NAME);
  copyFresh(LABEXTENSION_DIR, labextension);
  const install = { packageManager: "npm", packageName: MODULE_NAME, uninstallInstructions: `remove ${labextension}` };
  fs.writeFileSync(path.join(labextension, "install.json"), `${JSON.stringify(install, null, 2)}\n`);
  return { nbextension, nbconfig: enableNbextension(configDir), labextension };
}

/** The CLI action: install and print what was written. */
export function widgetsInstallCommand(options: InstallOptions): void {
  const result = installWidgetsFrontend(options);
  console.log(`nbextension: ${result.nbextension} (enabled in ${result.nbconfig})`);
  console.log(`labextension: ${result.labextension} (JupyterLab 4: restart Lab to load it)`);
}
