// The user's install, tested as written: the README's install block ("Interactive editing (widgets)", the one
// after the marker naming this file) runs verbatim in bash from the repository, with HOME in a temporary folder
// so `~/fatezero-jupyter` is an empty venv and the kernel and extension land in that HOME's Jupyter folders.
// Then `jupyter kernelspec list` and `jupyter labextension list` must show the kernel and the extension enabled
// and OK, and a notebook must run in that venv's JupyterLab (a cell's result and a widget rendered by our
// extension). The transcript is kept as test-artifacts/jupyter-install.txt.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import {
  ARTIFACTS,
  carTurnFrames,
  chromiumMissing,
  launchChromium,
  pageErrors,
  SCRUBBER_CELL,
  screenshot,
  tsNotebook,
} from "./support/chromium";
import { withJupyterServer } from "./support/jupyterServer";
import { ROOT, run } from "./support/temporaryJupyter";
import { SHARED, tempDir } from "./sharedData";

const MARKER = "<!-- test/jupyterInstall.test.ts runs the next block";

/** The README's install block: the first fenced block after the marker. */
function installBlock(): string {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, "the README marks its install block");
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, "a fenced block follows the marker");
  return m[1];
}

const ANSI = /\x1b\[[0-9;]*m/g;

const python3 = ["python3", "/usr/bin/python3"].find((p) => {
  try {
    return require("node:child_process").spawnSync(p, ["-c", "import sys, venv; sys.exit(sys.version_info < (3, 10))"]).status === 0;
  } catch {
    return false;
  }
});

test(
  "the README's install block: empty venv → pinned Jupyter, kernel and widgets → listed enabled and OK → a notebook runs in Lab",
  { skip: chromiumMissing() || (!python3 && "no python3 (3.10 or newer) with venv"), timeout: 900_000 },
  async () => {
    const block = installBlock();
    assert.match(block, /pip install -r python\/requirements-jupyter\.txt/);
    assert.match(block, /npx fatezero kernel install/);
    assert.match(block, /npx fatezero widgets install/);
    const home = tempDir("jupyter-install-home");
    // A user's shell: no .venv on PATH, no project Jupyter variables; pip keeps its cache and config (npm gets the
    // temporary HOME's own cache: `npx fatezero` in the repository links the project into it).
    const env: NodeJS.ProcessEnv = {
      PATH: (process.env.PATH ?? "")
        .split(path.delimiter)
        .filter((p) => !p.startsWith(path.join(ROOT, ".venv")))
        .join(path.delimiter),
      HOME: home,
      LANG: "C.UTF-8",
      TERM: "dumb",
      PIP_CACHE_DIR: path.join(os.homedir(), ".cache", "pip"),
      npm_config_update_notifier: "false",
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("PIP_"))),
    };
    const userPip = [path.join(os.homedir(), ".config", "pip", "pip.conf"), path.join(os.homedir(), ".pip", "pip.conf")].find((f) =>
      fs.existsSync(f),
    );
    if (userPip) env.PIP_CONFIG_FILE = userPip;
    const started = Date.now();
    const installed = await run("bash", ["-e", "-x", "-c", block], ROOT, env, 600_000);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const transcript = installed.output.replace(ANSI, "");
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(
      path.join(ARTIFACTS, "jupyter-install.txt"),
      `# README install block, run with HOME=${home} in ${ROOT} (${seconds} s, exit ${installed.code})\n${block}\n# output\n${transcript}`,
    );
    assert.equal(installed.code, 0, transcript.slice(-4000));
    // `a && b` lines do not stop bash -e: every step's own failure is looked for.
    assert.doesNotMatch(transcript, /^(npm error|ERROR:|Traceback|fatezero: )/m, transcript.slice(-4000));
    assert.match(transcript, /^Successfully installed .*jupyterlab-4\.6\.\d+/m);

    const venv = path.join(home, "fatezero-jupyter");
    const userData = path.join(home, ".local", "share", "jupyter");
    // jupyter kernelspec list: the kernel from the user's data dir.
    assert.match(transcript, new RegExp(`^\\s*fatezero\\s+${userData}/kernels/fatezero$`, "m"));
    const spec = JSON.parse(fs.readFileSync(path.join(userData, "kernels", "fatezero", "kernel.json"), "utf8"));
    assert.equal(spec.argv[0], process.execPath);
    // jupyter labextension list: JupyterLab 4.6, our extension and the widget manager enabled and OK.
    assert.match(transcript, /^JupyterLab v4\.6\.\d+$/m);
    assert.match(transcript, new RegExp(`^${userData}/labextensions\\n\\s+fatezero-widgets v0\\.1\\.0 enabled OK`, "m"));
    assert.match(transcript, /^\s+@jupyter-widgets\/jupyterlab-manager v5\.0\.\d+ enabled OK \(python, jupyterlab_widgets\)$/m);
    assert.doesNotMatch(transcript, /\b(disabled|X)\b.*fatezero|fatezero.*\b(disabled|incompatible)/i);

    // A notebook runs in that venv's JupyterLab, with the user's own Jupyter folders (nothing isolated).
    const frames = await carTurnFrames(path.join(SHARED, "data"), 4, 96, "jpeg");
    await withJupyterServer(
      {
        app: "lab",
        jupyter: path.join(venv, "bin", "jupyter"),
        baseEnv: { ...env, PATH: `${path.join(venv, "bin")}${path.delimiter}${env.PATH}`, VIRTUAL_ENV: venv },
        isolated: false,
        args: ["--LabApp.expose_app_in_browser=True", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        readyTimeoutMs: 60_000,
        prepare: (dirs) => {
          frames.forEach((jpeg, i) => fs.writeFileSync(path.join(dirs.notebooks, `frame${i}.jpg`), jpeg));
          fs.writeFileSync(path.join(dirs.notebooks, "check.ipynb"), tsNotebook(["6 * 7", SCRUBBER_CELL]));
        },
      },
      async (server) => {
        const browser = await launchChromium();
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        const errors = pageErrors(page);
        try {
          await page.goto(`${server.baseUrl}lab/tree/check.ipynb?reset&token=${server.token}`);
          await page.waitForFunction(
            () => {
              const app = (globalThis as any).jupyterapp;
              const panel = app?.shell?.currentWidget;
              return app?.isPluginActivated?.("fatezero-widgets:plugin") && panel?.sessionContext?.session?.kernel?.status === "idle";
            },
            undefined,
            { timeout: 120_000 },
          );
          await page.evaluate(() => (globalThis as any).jupyterapp.commands.execute("notebook:run-all-cells"));
          const result = page.locator(".jp-Cell").nth(0).locator(".jp-OutputArea-output");
          await result.filter({ hasText: "42" }).waitFor({ timeout: 60_000 });
          await page.waitForFunction(
            () => (globalThis as any).document.querySelector('[data-testid="fz-row-0"]')?.naturalWidth === 96,
            undefined,
            { timeout: 60_000 },
          );
          assert.equal(await page.locator('[data-testid="fz-row-label-0"]').textContent(), "source");
          await screenshot(page, "jupyter-install-lab");
          assert.deepEqual(
            errors.filter((e) => /fatezero/i.test(e)),
            [],
            `no errors from the project's code: ${errors.join("\n")}`,
          );
        } catch (e) {
          await screenshot(page, "jupyter-install-failure").catch(() => undefined);
          throw new Error(`${(e as Error).message}\npage errors: ${errors.join("\n")}\nserver: ${server.log().slice(-3000)}`);
        } finally {
          await browser.close();
        }
      },
    );
  },
);
