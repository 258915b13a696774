// The kernel as its own process (dist/cli/kernelMain.js, as the kernelspec starts it) driven over real ZeroMQ
// from Node with the kernel's own wire format and signing: for tests that must see the process survive or die,
// without a Python Jupyter client.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zmq from "zeromq";
import { Signer } from "../../kernel/signing";
import { decodeFrames, encodeMessage, makeHeader, type JupyterMessage } from "../../kernel/wireMessage";
import { withTimeout } from "./withTimeout";

const KERNEL_MAIN = path.resolve(__dirname, "../../cli/kernelMain.js");
const PORTS = { shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5 };

/** How the kernel process ended: its exit code or the signal that killed it. */
export interface KernelExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A kernel process and a shell/control client connected to it over ipc:// endpoints in a temporary folder. */
export class ZmqKernel {
  private stderrText = "";
  private exitStatus: KernelExit | undefined;
  private readonly exited: Promise<KernelExit>;
  private readonly session = randomUUID();

  private constructor(
    private readonly child: ChildProcess,
    private readonly signer: Signer,
    private readonly sockets: Record<"shell" | "control", zmq.Dealer>,
    private readonly dir: string,
  ) {
    child.stderr!.on("data", (chunk: Buffer) => (this.stderrText += chunk.toString()));
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      }),
    );
  }

  /** Start a kernel and wait until it logs that it is ready. */
  static async start(): Promise<ZmqKernel> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fz-zmq-kernel-"));
    const key = randomUUID();
    const info = { transport: "ipc", ip: path.join(dir, "k"), key, signature_scheme: "hmac-sha256", ...PORTS };
    const connectionFile = path.join(dir, "connection.json");
    fs.writeFileSync(connectionFile, JSON.stringify(info));
    const child = spawn(process.execPath, [KERNEL_MAIN, connectionFile], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
      // Its own process group, as Jupyter starts kernels: a signal to the kernel's group never reaches the tests.
      detached: true,
    });
    const sockets = { shell: new zmq.Dealer(), control: new zmq.Dealer() };
    sockets.shell.connect(`ipc://${info.ip}-${PORTS.shell_port}`);
    sockets.control.connect(`ipc://${info.ip}-${PORTS.control_port}`);
    const kernel = new ZmqKernel(child, new Signer(info.signature_scheme, key), sockets, dir);
    await withTimeout(kernel.waitForLog(/ready \(ipc/), 60_000, "the kernel's ready line");
    return kernel;
  }

  /** The kernel's stderr so far (its log and the cells' late errors). */
  get stderr(): string {
    return this.stderrText;
  }

  /** How the process ended, or undefined while it runs. */
  get exit(): KernelExit | undefined {
    return this.exitStatus;
  }

  /** Resolves once the kernel's stderr matches `pattern`; rejects if the process ends first. */
  async waitForLog(pattern: RegExp): Promise<string> {
    while (!pattern.test(this.stderrText)) {
      if (this.exitStatus) throw new Error(`the kernel ended (${JSON.stringify(this.exitStatus)}):\n${this.stderrText}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.stderrText;
  }

  /** Run `code` as a cell; resolves to the execute_reply's content, or rejects if the kernel ends or stays silent. */
  execute(code: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const content = { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false };
    return this.request("shell", "execute_request", content, timeoutMs);
  }

  /** Ask the kernel to shut down and wait for the process to end (killed if it does not within 10 s). */
  async stop(): Promise<KernelExit> {
    if (!this.exitStatus) {
      await this.request("control", "shutdown_request", { restart: false }, 10_000).catch(() => this.child.kill("SIGKILL"));
    }
    const exit = await withTimeout(this.exited, 10_000, "the kernel's exit").catch(() => {
      this.child.kill("SIGKILL");
      return this.exited;
    });
    this.sockets.shell.close();
    this.sockets.control.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
    return exit;
  }

  /** Send a request on `channel`; resolves to its reply's content, or rejects if the kernel ends or stays silent. */
  async request(
    channel: "shell" | "control",
    msgType: string,
    content: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const header = makeHeader(msgType, this.session);
    const message: JupyterMessage = { header, parent_header: {}, metadata: {}, content, buffers: [] };
    const socket = this.sockets[channel];
    await socket.send(encodeMessage([], message, this.signer));
    const reply = (async () => {
      for (;;) {
        const { message: received } = decodeFrames(await socket.receive(), this.signer);
        if ((received.parent_header as { msg_id?: string }).msg_id === header.msg_id) return received.content;
      }
    })();
    const died = this.exited.then((exit) => {
      throw new Error(`the kernel ended (${JSON.stringify(exit)}) instead of answering ${msgType}:\n${this.stderrText}`);
    });
    return withTimeout(Promise.race([reply, died]), timeoutMs, `the reply to ${msgType}`);
  }
}
