// The real JupyterLab 4.6 for tests: `jupyter lab` from the project's pinned environment (.venv, made by
// `bash python/setup.sh` from python/requirements-jupyter.txt: jupyterlab 4.6, jupyterlab_widgets, notebook 7,
// all from PyPI, as users get them). A run gets its own Jupyter state: the project's kernelspec and its prebuilt
// labextension installed into a prefix exactly as `fatezero kernel install --prefix` and `fatezero widgets
// install --prefix` do (the widget manager's extension comes with jupyterlab_widgets in the venv), user
// settings and workspaces in a temporary config folder, and a server on 127.0.0.1 with a token.
import * as fs from "node:fs";
import * as path from "node:path";
import { installKernelSpec } from "../../kernel/install";
import { installWidgetsFrontend } from "../../cli/widgetsCommand";
import { withJupyterServer, type JupyterApp, type JupyterDirs } from "./jupyterServer";
import { pythonMissing } from "./pythonEnv";

/** Why Lab (or Notebook 7) tests cannot run here, or false. */
export function labMissing(): string | false {
  return pythonMissing(["jupyterlab", "notebook", "jupyterlab_widgets"]);
}

/** A running Lab (or Notebook 7) server. */
export interface LabServer {
  url: string;
  token: string;
  dirs: JupyterDirs;
  /** The folder notebooks are served from (the server's root). */
  root: string;
  log(): string;
}

/** What a Lab run starts with. */
export interface LabOptions {
  /** User settings by plugin file (e.g. "@jupyter-widgets/jupyterlab-manager/plugin": { saveState: true }). */
  settings?: Record<string, unknown>;
  /** Files put into the served folder before the server starts (relative path → an absolute path to copy, or the bytes). */
  files?: Record<string, string | Uint8Array>;
  /** Extra environment of the server and its kernels. */
  env?: Record<string, string>;
  /** `lab` (default) or `notebook` (Notebook 7: the same server and extensions, Notebook 7's pages). */
  app?: Exclude<JupyterApp, "server">;
}

/** Settings every run gets: no news or update checks (they would reach out and show a notification). */
const QUIET_SETTINGS: Record<string, unknown> = {
  "@jupyterlab/apputils-extension/notification": { checkForUpdates: false, fetchNews: "false" },
};

/** Start Lab (or Notebook 7) with the project's kernel and widgets installed; run `fn`; stop everything it started. */
export async function withLab<T>(options: LabOptions, fn: (lab: LabServer) => Promise<T>): Promise<T> {
  const app = options.app ?? "lab";
  return withJupyterServer(
    {
      app,
      readyTimeoutMs: 60_000,
      // The app in the page as `window.jupyterapp`, for tests that use its commands; no update check.
      args: [
        app === "lab" ? "--LabApp.expose_app_in_browser=True" : "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None",
      ],
      prepare: (dirs, env) => {
        Object.assign(env, options.env ?? {});
        installKernelSpec({ prefix: dirs.prefix });
        installWidgetsFrontend({ prefix: dirs.prefix });
        const userSettings = path.join(dirs.config, "lab", "user-settings");
        for (const [plugin, values] of Object.entries({ ...(app === "lab" && QUIET_SETTINGS), ...options.settings })) {
          const file = path.join(userSettings, `${plugin}.jupyterlab-settings`);
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, JSON.stringify(values));
        }
        for (const [rel, content] of Object.entries(options.files ?? {})) {
          const to = path.join(dirs.notebooks, rel);
          fs.mkdirSync(path.dirname(to), { recursive: true });
          if (typeof content === "string") fs.copyFileSync(content, to);
          else fs.writeFileSync(to, content);
        }
      },
    },
    (server) =>
      fn({ url: server.baseUrl.replace(/\/$/, ""), token: server.token, dirs: server.dirs, root: server.dirs.notebooks, log: server.log }),
  );
}
