// A Notebook 7 page in headless Chromium against a live `jupyter notebook` (Notebook 7.6 from the pinned
// .venv) running our kernel, with our prebuilt labextension installed as `fatezero widgets install --prefix`
// does: the setup the widget end-to-end tests and the widget bench share. (The classic Notebook 6 and its
// nbextension are retired: see the README, "Interactive editing (widgets)".)
import type { Browser, Locator, Page } from "playwright-core";
import { launchChromium, pageErrors, screenshot, tsNotebook } from "./chromium";
import { withLab, type LabServer } from "./jupyterLab";

/** A notebook page whose kernel is connected and whose widget extension is loaded. */
export interface NotebookPage {
  page: Page;
  browser: Browser;
  server: LabServer;
  /** Console errors, failed requests and uncaught exceptions so far. */
  errors: string[];
  /** Execute cell `index` through the notebook's own run command (does not wait for it to finish). */
  execute(index: number): Promise<void>;
  /** The text outputs (stream and text/plain) of cell `index`. */
  outputText(index: number): Locator;
  /** `errors` without Notebook 7's own page error on every notebook (NOTEBOOK7_SHORTCUTS_ERROR). */
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

/**
 * Notebook 7.6.5's own page error on every notebook it opens (its shortcuts plugin reads the schema of a plugin
 * the settings registry does not hold): seen with a Python notebook and none of our extensions installed.
 */
const NOTEBOOK7_SHORTCUTS_ERROR = "TypeError: Cannot read properties of undefined (reading 'schema')";

/** The labextension's plugin id: activated means our widgets are registered with the page's widget manager. */
const PLUGIN = "fatezero-widgets:plugin";

/** Start Notebook 7 with our kernelspec and labextension, open the notebook in Chromium, and run `body`. */
export async function withNotebookPage(options: NotebookPageOptions, body: (nb: NotebookPage) => Promise<void>): Promise<void> {
  const files: Record<string, Uint8Array | string> = { ...options.files, "page.ipynb": tsNotebook(options.cells) };
  await withLab(
    { app: "notebook", env: options.env, files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])) },
    async (server) => {
      const browser = await launchChromium();
      const page = await browser.newPage({ viewport: options.viewport ?? { width: 1100, height: 900 } });
      const errors = pageErrors(page);
      const cell = (index: number) => page.locator(".jp-Notebook .jp-Cell").nth(index);
      const nb: NotebookPage = {
        page,
        browser,
        server,
        errors,
        execute: (index) =>
          page.evaluate(async (i) => {
            const app = (globalThis as any).jupyterapp;
            const notebook = app.shell.currentWidget.content;
            notebook.activeCellIndex = i;
            await app.commands.execute("notebook:run-cell");
          }, index),
        outputText: (index) =>
          cell(index).locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout'], .jp-OutputArea-output[data-mime-type='text/plain']",
          ),
        ownErrors: () => errors.filter((e) => !e.startsWith(NOTEBOOK7_SHORTCUTS_ERROR)),
      };
      try {
        await page.goto(`${server.url}/notebooks/page.ipynb?token=${server.token}`);
        await page.waitForFunction(
          (plugin) => {
            const app = (globalThis as any).jupyterapp;
            const panel = app?.shell?.currentWidget;
            return (
              app?.isPluginActivated?.(plugin) &&
              panel?.sessionContext?.session?.kernel?.status === "idle" &&
              panel.content?.widgets?.length > 0
            );
          },
          PLUGIN,
          { timeout: 60_000 },
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
