// The real JupyterLab 4 frontend for tests, on Debian's jupyter_server 1.23 + jupyterlab_server 2.16 (the
// recipe in ../shared/jupyterlab/: JupyterLab's own staging app, which no registry here serves, and the
// scripts that build and serve it). The app and @jupyter-widgets/jupyterlab-manager's prebuilt extension are
// built once into a cache folder keyed by the staging version and the recipe, not per test run. A run gets
// its own Jupyter state: the project's kernelspec and its prebuilt labextension installed into a prefix
// exactly as `fatezero kernel install --prefix` and `fatezero widgets install --prefix` do, the manager's
// extension beside it, user settings and workspaces, and a server on 127.0.0.1 with a token.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { installKernelSpec, isolatedJupyterEnv } from "../../kernel/install";
import { installWidgetsFrontend } from "../../cli/widgetsCommand";
import { SHARED } from "../sharedData";
import { freePort, makeDirs, type JupyterDirs } from "./jupyterServer";
import { withTimeout } from "./withTimeout";

/** The recipe folder. */
export const LAB_RECIPE = path.join(SHARED, "jupyterlab");
const STAGING = "staging-4.5.10";

/** Why Lab tests cannot run here, or false. */
export function labMissing(): string | false {
  if (!fs.existsSync(path.join(LAB_RECIPE, STAGING, "package.json"))) return `${LAB_RECIPE}/${STAGING} is missing (the JupyterLab recipe)`;
  for (const m of ["jupyter_server", "jupyterlab_server"]) {
    if (spawnSync("/usr/bin/python3", ["-c", `import ${m}`]).status !== 0)
      return `Debian's python3-${m.replace("_", "-")} is not installed`;
  }
  return false;
}

/** The built app's folder: ~/.cache/fatezero-lab/<staging>-<hash of the recipe>. */
export function labCacheDir(): string {
  const h = crypto.createHash("sha256");
  for (const f of [
    "fix_pkg.py",
    "npm_install_retry.sh",
    "serve_lab.py",
    path.join(STAGING, "package.json"),
    path.join(STAGING, "yarn.lock"),
  ]) {
    h.update(fs.readFileSync(path.join(LAB_RECIPE, f)));
  }
  return path.join(
    process.env.FATEZERO_LAB_CACHE || path.join(os.homedir(), ".cache", "fatezero-lab"),
    `${STAGING}-${h.digest("hex").slice(0, 12)}`,
  );
}

function run(what: string, command: string, args: string[], cwd: string, log: string): void {
  const r = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    maxBuffer: 64 << 20,
    env: { ...process.env, npm_config_fund: "false", npm_config_audit: "false" },
  });
  fs.appendFileSync(log, `$ ${command} ${args.join(" ")}\n${r.stdout}${r.stderr}\n`);
  if (r.status !== 0) throw new Error(`JupyterLab build: ${what} failed (exit ${r.status}); see ${log}`);
}

/**
 * Build the app (npm install of the staging package, webpack) and the widget manager's prebuilt extension into
 * the cache, unless they are there. Returns the folder. Takes a few minutes on two cores, once.
 */
export function ensureLabApp(): string {
  const dir = labCacheDir();
  if (fs.existsSync(path.join(dir, "done"))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const log = path.join(tmp, "build.log");
  // 1. The app, as the recipe's build-and-drive.sh builds it.
  fs.cpSync(path.join(LAB_RECIPE, STAGING), path.join(tmp, "staging"), { recursive: true });
  for (const f of fs.readdirSync(path.join(tmp, "staging"), { recursive: true }) as string[])
    fs.chmodSync(path.join(tmp, "staging", f), 0o755);
  fs.renameSync(path.join(tmp, "staging", "yarn.lock"), path.join(tmp, "staging", "yarn.lock.ref"));
  fs.copyFileSync(path.join(tmp, "staging", "package.json"), path.join(tmp, "staging", "package.orig.json"));
  for (const f of ["fix_pkg.py", "npm_install_retry.sh", "serve_lab.py"]) fs.copyFileSync(path.join(LAB_RECIPE, f), path.join(tmp, f));
  run("npm install of the app", "bash", [path.join(tmp, "npm_install_retry.sh")], tmp, log);
  run(
    "webpack",
    path.join(tmp, "staging", "node_modules", ".bin", "webpack"),
    ["--config", "webpack.prod.config.js"],
    path.join(tmp, "staging"),
    log,
  );
  // 2. The widget manager's prebuilt extension, built against this app's core.
  const widgets = path.join(tmp, "widgets");
  fs.mkdirSync(widgets);
  const staging = JSON.parse(fs.readFileSync(path.join(tmp, "staging", "package.json"), "utf8")) as { overrides: Record<string, string> };
  const overrides = { ...staging.overrides };
  delete overrides["@jupyter-widgets/jupyterlab-manager"];
  const pkg = {
    name: "widgets-build",
    private: true,
    dependencies: { "@jupyter-widgets/jupyterlab-manager": "5.0.16", "@jupyterlab/builder": overrides["@jupyterlab/builder"] },
    overrides,
  };
  fs.writeFileSync(path.join(widgets, "package.json"), JSON.stringify(pkg, null, 1));
  run("npm install of jupyterlab-manager", "npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], widgets, log);
  fs.cpSync(path.join(widgets, "node_modules", "@jupyter-widgets", "jupyterlab-manager"), path.join(widgets, "jupyterlab-manager"), {
    recursive: true,
  });
  run(
    "jupyterlab-manager labextension",
    process.execPath,
    [
      path.join(widgets, "node_modules", "@jupyterlab", "builder", "lib", "build-labextension.js"),
      "--core-path",
      path.join(tmp, "staging"),
      "jupyterlab-manager",
    ],
    widgets,
    log,
  );
  fs.cpSync(path.join(widgets, "jupyterlab-manager", "labextension"), path.join(tmp, "manager-labextension"), { recursive: true });
  // The node_modules (~750 MB) are only needed to build.
  fs.rmSync(path.join(tmp, "staging", "node_modules"), { recursive: true, force: true });
  fs.rmSync(widgets, { recursive: true, force: true });
  fs.writeFileSync(path.join(tmp, "done"), new Date().toISOString());
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(tmp, dir);
  return dir;
}

/** A running Lab server. */
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
  /** Files put into the served folder before the server starts (relative path → absolute source). */
  files?: Record<string, string>;
  /** Extra environment of the server and its kernels. */
  env?: Record<string, string>;
}

/** Start Lab with the project's kernel and widgets installed; run `fn`; stop everything it started. */
export async function withLab<T>(options: LabOptions, fn: (lab: LabServer) => Promise<T>): Promise<T> {
  const app = ensureLabApp();
  const dirs = makeDirs();
  const token = crypto.randomBytes(24).toString("hex");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...isolatedJupyterEnv(dirs.root, dirs.prefix),
    IPYTHONDIR: path.join(dirs.root, "ipython"),
    ...options.env,
  };
  installKernelSpec({ prefix: dirs.prefix });
  installWidgetsFrontend({ prefix: dirs.prefix });
  const labextensions = path.join(dirs.prefix, "share", "jupyter", "labextensions");
  fs.cpSync(path.join(app, "manager-labextension"), path.join(labextensions, "@jupyter-widgets", "jupyterlab-manager"), {
    recursive: true,
  });
  // serve_lab.py serves the folders beside it: this run's copy sees the built app through links, and its
  // own extensions, settings and workspaces.
  const lab = path.join(dirs.root, "lab");
  fs.mkdirSync(lab);
  fs.copyFileSync(path.join(app, "serve_lab.py"), path.join(lab, "serve_lab.py"));
  for (const shared of ["static", "schemas", "themes"]) fs.symlinkSync(path.join(app, shared), path.join(lab, shared));
  fs.symlinkSync(labextensions, path.join(lab, "labextensions"));
  const userSettings = path.join(lab, "user-settings");
  for (const [plugin, values] of Object.entries(options.settings ?? {})) {
    const file = path.join(userSettings, `${plugin}.jupyterlab-settings`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(values));
  }
  for (const [rel, from] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dirs.notebooks, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(dirs.notebooks, rel));
  }
  const port = await freePort();
  let output = "";
  const child: ChildProcess = spawn(
    "/usr/bin/python3",
    [path.join(lab, "serve_lab.py"), "--port", String(port), "--token", token, "--root", dirs.notebooks],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the Lab server exited (${child.exitCode}):\n${output}`);
      const ok = await fetch(`${url}/api/status`, { headers: { Authorization: `token ${token}` }, signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`the Lab server did not answer within 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return await fn({ url, token, dirs, root: dirs.notebooks, log: () => output });
  } finally {
    process.removeListener("exit", killOnExit);
    // Shutting the server down politely stops its kernels too.
    await fetch(`${url}/api/shutdown`, { method: "POST", headers: { Authorization: `token ${token}` } }).catch(() => undefined);
    const exited = new Promise((r) => child.once("exit", r));
    await withTimeout(exited, 15_000, "the Lab server to stop").catch(() => child.kill("SIGKILL"));
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
}
