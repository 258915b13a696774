// `fatezero widgets install`: puts the built frontend where Jupyter finds it — the prebuilt extension that
// JupyterLab 4.6 and Notebook 7 load, into <data dir>/labextensions/fatezero-widgets/. (The classic Notebook 6
// nbextension is retired: an earlier install's nbextension is removed and disabled.)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { userDataDir, type InstallOptions } from "../kernel/install";
import { LABEXTENSION_DIR } from "../widgets/build/paths";
import { MODULE_NAME } from "../widgets/shared/widgetStates";

/** What `installWidgetsFrontend` wrote. */
export interface WidgetsInstallResult {
  labextension: string;
}

/** The retired nbextension's require path, as earlier installs enabled it in nbconfig/notebook.json. */
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

/** Remove what an earlier install wrote for the retired nbextension: its folder and its nbconfig entry. */
function removeRetiredNbextension(dataDir: string, configDir: string): void {
  fs.rmSync(path.join(dataDir, "nbextensions", MODULE_NAME), { recursive: true, force: true });
  const file = path.join(configDir, "nbconfig", "notebook.json");
  if (!fs.existsSync(file)) return;
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as { load_extensions?: Record<string, boolean> };
  if (!config.load_extensions || !(NBEXTENSION_REQUIRE in config.load_extensions)) return;
  delete config.load_extensions[NBEXTENSION_REQUIRE];
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
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
  removeRetiredNbextension(dataDir, configDir);
  // JupyterLab 4 finds a prebuilt extension in <data dir>/labextensions/<package name>/; install.json says
  // how it got there (`jupyter labextension list` shows it).
  const labextension = path.join(dataDir, "labextensions", MODULE_NAME);
  copyFresh(LABEXTENSION_DIR, labextension);
  const install = { packageManager: "npm", packageName: MODULE_NAME, uninstallInstructions: `remove ${labextension}` };
  fs.writeFileSync(path.join(labextension, "install.json"), `${JSON.stringify(install, null, 2)}\n`);
  return { labextension };
}

/** The CLI action: install and print what was written. */
export function widgetsInstallCommand(options: InstallOptions): void {
  const result = installWidgetsFrontend(options);
  console.log(`labextension: ${result.labextension} (JupyterLab 4.6 / Notebook 7: restart the server to load it)`);
}
