// A real Jupyter server for tests, from the project's pinned environment (.venv, python/setup.sh): `jupyter
// server` (jupyter_server 2), or the same server with Notebook 7's or JupyterLab 4.6's frontend (`jupyter
// notebook`, `jupyter lab`), all Jupyter state in a temporary folder, and a @jupyterlab/services client
// connected to it (the same client code JupyterLab runs).
import { spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { KernelAPI, KernelConnection, ServerConnection, type Kernel } from "@jupyterlab/services";
import WebSocket from "ws";
import { isolatedJupyterEnv } from "../../kernel/install";
import { JUPYTER, withPythonPath } from "./pythonEnv";
import { withTimeout } from "./withTimeout";

/** The temporary folders the server's Jupyter state lives in. */
export interface JupyterDirs {
  /** Parent of all the others; removed on stop. */
  root: string;
  /** A `--prefix` for kernelspec installs: its `share/jupyter` is on JUPYTER_PATH. */
  prefix: string;
  config: string;
  data: string;
  runtime: string;
  notebooks: string;
}

/** Which Jupyter application serves: the bare server (REST and websockets), Notebook 7, or JupyterLab. */
export type JupyterApp = "server" | "notebook" | "lab";

/** What a test sets up before the server starts. */
export interface JupyterServerOptions {
  /** `jupyter server` (default), `jupyter notebook` (Notebook 7) or `jupyter lab`. */
  app?: JupyterApp;
  /** More command-line options for the application. */
  args?: string[];
  /** The `jupyter` command (default: the pinned .venv's). */
  jupyter?: string;
  /** The environment to start from (default: process.env with the .venv's bin/ first on PATH). */
  baseEnv?: NodeJS.ProcessEnv;
  /**
   * Whether Jupyter's data, config and runtime folders and JUPYTER_PATH point into the temporary folder (default
   * true); false leaves them as `baseEnv` has them (a user's own Jupyter, as the install test checks it).
   */
  isolated?: boolean;
  /** Runs before the server starts, with the folders and the environment it will run with (install kernelspecs here). */
  prepare?: (dirs: JupyterDirs, env: NodeJS.ProcessEnv) => void | Promise<void>;
  /** How long the server may take to answer GET /api. */
  readyTimeoutMs?: number;
}

/** A running server and a client connected to it. */
export interface JupyterServer {
  readonly baseUrl: string;
  /** The server's token (also in `settings`). */
  readonly token: string;
  readonly dirs: JupyterDirs;
  readonly env: NodeJS.ProcessEnv;
  readonly settings: ServerConnection.ISettings;
  /** Start a kernel by kernelspec name and wait until it is idle. */
  startKernel(name: string, timeoutMs?: number): Promise<Kernel.IKernelConnection>;
  /** The server's output so far, for failure messages. */
  log(): string;
  /** Shut kernels down, stop the server, remove the folders; safe to call twice. */
  stop(): Promise<void>;
}

/** The outputs of one executed cell, from iopub. */
export interface ExecuteOutcome {
  status: string;
  stdout: string;
  stderr: string;
  /** execute_result and display_data mime bundles, in order. */
  bundles: Record<string, unknown>[];
  error?: { ename: string; evalue: string; traceback: string[] };
}

/** A port nothing listens on now (on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Fresh temporary folders for a server's Jupyter state. */
export function makeDirs(): JupyterDirs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-jupyter-"));
  const dirs = { root, prefix: "prefix", config: "config", data: "data", runtime: "runtime", notebooks: "notebooks" };
  for (const key of ["prefix", "config", "data", "runtime", "notebooks"] as const) {
    dirs[key] = path.join(root, key);
    fs.mkdirSync(dirs[key]);
  }
  return dirs;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

// Polls rather than parsing the server's log: GET /api answering 200 is the readiness the client needs.
async function waitReady(baseUrl: string, token: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the Jupyter server exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    try {
      const res = await fetch(`${baseUrl}api`, { headers: { Authorization: `token ${token}` }, signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the Jupyter server was not ready after ${timeoutMs} ms:\n${log()}`);
}

/** Start `jupyter server|notebook|lab` on a free port with a random token and Jupyter state in a temporary folder. */
export async function startJupyterServer(options: JupyterServerOptions = {}): Promise<JupyterServer> {
  const dirs = makeDirs();
  const token = crypto.randomBytes(24).toString("hex");
  const env: NodeJS.ProcessEnv = {
    ...(options.baseEnv ?? withPythonPath(process.env)),
    ...(options.isolated === false ? {} : { ...isolatedJupyterEnv(dirs.root, dirs.prefix), IPYTHONDIR: path.join(dirs.root, "ipython") }),
  };
  let child: ChildProcess | undefined;
  let output = "";
  const killOnExit = () => child?.kill("SIGKILL");
  const cleanup = async () => {
    process.removeListener("exit", killOnExit);
    if (child) {
      const done = exited(child);
      child.kill("SIGTERM");
      await withTimeout(done, 10_000, "the Jupyter server to stop").catch(() => {
        child?.kill("SIGKILL");
        return exited(child!);
      });
    }
    fs.rmSync(dirs.root, { recursive: true, force: true });
  };
  try {
    await options.prepare?.(dirs, env);
    const port = await freePort();
    const args = [
      options.app ?? "server",
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.token=${token}`,
      "--ServerApp.open_browser=False",
      "--ServerApp.allow_root=True",
      `--ServerApp.root_dir=${dirs.notebooks}`,
      ...(options.args ?? []),
    ];
    child = spawn(options.jupyter ?? JUPYTER, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    process.on("exit", killOnExit);
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const baseUrl = `http://127.0.0.1:${port}/`;
    await waitReady(baseUrl, token, child, options.readyTimeoutMs ?? 30_000, () => output);
    const settings = ServerConnection.makeSettings({
      baseUrl,
      wsUrl: `ws://127.0.0.1:${port}/`,
      token,
      appendToken: true,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    // Plain connections rather than a KernelManager: its background poll keeps Node alive after the test.
    const kernels: Kernel.IKernelConnection[] = [];
    let stopped: Promise<void> | undefined;
    return {
      baseUrl,
      token,
      dirs,
      env,
      settings,
      log: () => output,
      async startKernel(name, timeoutMs = 30_000) {
        const model = await withTimeout(KernelAPI.startNew({ name }, settings), timeoutMs, `start kernel ${name}`).catch((err: Error) => {
          throw new Error(`start kernel ${name}: ${err.message}\n${output.slice(-3000)}`);
        });
        const kernel = new KernelConnection({ model, serverSettings: settings });
        kernels.push(kernel);
        await withTimeout(kernel.info, timeoutMs, `kernel ${name} to answer kernel_info`);
        return kernel;
      },
      stop() {
        stopped ??= (async () => {
          const shutdowns = kernels.filter((k) => !k.isDisposed).map((k) => k.shutdown());
          await withTimeout(Promise.allSettled(shutdowns), 10_000, "kernels to shut down").catch(() => undefined);
          kernels.forEach((k) => k.dispose());
          await cleanup();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Start a server, run `fn` with it, and always stop it. */
export async function withJupyterServer<T>(options: JupyterServerOptions, fn: (server: JupyterServer) => Promise<T>): Promise<T> {
  const server = await startJupyterServer(options);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** Execute `code` and collect its outputs; rejects after `timeoutMs`. */
export function execute(kernel: Kernel.IKernelConnection, code: string, timeoutMs = 30_000): Promise<ExecuteOutcome> {
  const outcome: ExecuteOutcome = { status: "", stdout: "", stderr: "", bundles: [] };
  const future = kernel.requestExecute({ code, stop_on_error: true });
  future.onIOPub = (msg) => {
    const content = msg.content as Record<string, unknown>;
    switch (msg.header.msg_type) {
      case "stream":
        if (content.name === "stdout") outcome.stdout += String(content.text);
        else outcome.stderr += String(content.text);
        break;
      case "execute_result":
      case "display_data":
        outcome.bundles.push(content.data as Record<string, unknown>);
        break;
      case "error":
        outcome.error = content as unknown as ExecuteOutcome["error"];
        break;
    }
  };
  const done = future.done.then((reply) => ({ ...outcome, status: String(reply.content.status) }));
  return withTimeout(done, timeoutMs, `execute ${JSON.stringify(code.slice(0, 60))}`);
}
