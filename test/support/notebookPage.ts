// A classic Notebook 6 page in headless Chromium against a live `jupyter notebook` running our kernel with
// our nbextension installed: the setup the widget end-to-end tests and the widget bench share.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium, pageErrors, screenshot, tsNotebook } from "./chromium";
import { withJupyterServer, type JupyterServer } from "./jupyterServer";

const BIN = path.resolve(__dirname, "../../../bin/fatezero.js");

/** A notebook page whose kernel is connected and whose widget extension is loaded. */
export interface NotebookPage {
  page: Page;
  browser: Browser;
  server: JupyterServer;
  /** Console errors, failed requests and uncaught exceptions so far. */
  errors: string[];
  /** Execute cell `index` through the notebook UI (does not wait for it to finish). */
  execute(index: number): Promise<void>;
  /** Errors of ours: without Notebook 6's request for ipywidgets 5's extension, which is not installed. */
  ownErrors(): string[];
}

/** Options of a notebook page session. */
export interface NotebookPageOptions {
  /** TypeScript cells of the notebook. */
  cells: string[];
  /** Files to put beside the notebook (name → bytes). */
  files?: Record<string, Uint8Array | string>;
  /** Extra environment for the server and its kernels. */
  env?: Record<string, string>;
  /** Screenshot name kept when `body` fails. */
  failureShot: string;
  viewport?: { width: number; height: number };
}

/** Start a server with our kernelspec and nbextension, open the notebook in Chromium, and run `body`. */
export async function withNotebookPage(options: NotebookPageOptions, body: (nb: NotebookPage) => Promise<void>): Promise<void> {
  await withJupyterServer(
    {
      prepare: (dirs, env) => {
        for (const args of [
          ["kernel", "install", "--prefix", dirs.prefix],
          ["widgets", "install", "--prefix", dirs.prefix],
        ]) {
          const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8", timeout: 30_000 });
          assert.equal(r.status, 0, `fatezero ${args.join(" ")}: ${r.stderr}${r.stdout}`);
        }
        // Jupyter reads a prefix's etc/jupyter only for its own sys.prefix, or through this variable.
        env.JUPYTER_CONFIG_PATH = path.join(dirs.prefix, "etc", "jupyter");
        Object.assign(env, options.env ?? {});
        for (const [name, data] of Object.entries(options.files ?? {})) fs.writeFileSync(path.join(dirs.notebooks, name), data);
        fs.writeFileSync(path.join(dirs.notebooks, "page.ipynb"), tsNotebook(options.cells));
      },
    },
    async (server) => {
      const browser = await launchChromium();
      const page = await browser.newPage({ viewport: options.viewport ?? { width: 1100, height: 900 } });
      const errors = pageErrors(page);
      const nb: NotebookPage = {
        page,
        browser,
        server,
        errors,
        execute: (index) => page.evaluate((i) => (globalThis as any).Jupyter.notebook.get_cell(i).execute(), index),
        ownErrors: () => errors.filter((e) => !e.includes("widgets/notebook/js/extension") && !e.startsWith("Failed to load resource")),
      };
      try {
        await page.goto(`${server.baseUrl}notebooks/page.ipynb?token=${server.settings.token}`);
        await page.waitForFunction(
          () => {
            const w = globalThis as any;
            return w.Jupyter?.notebook?.kernel?.is_connected() && w.requirejs?.defined("nbextensions/fatezero-widgets/index");
          },
          undefined,
          { timeout: 30_000 },
        );
        await body(nb);
      } catch (err) {
        await screenshot(page, options.failureShot).catch(() => undefined);
        throw new Error(`${(err as Error).message}\npage errors: ${errors.join("\n")}\nserver: ${server.log().slice(-3000)}`);
      } finally {
        await browser.close();
      }
    },
  );
}
