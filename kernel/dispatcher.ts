// Receives on shell, control and stdin, rejects what fails to decode or verify (logged; the kernel carries on),
// and routes each request with `status` busy/idle around it. Execute requests run one at a time in arrival
// order; everything else (comm messages above all) is served at once, also while a cell is running.
import { kernelLog } from "./log";
import type { Messenger } from "./messenger";
import { runInRequest, type Request } from "./requestContext";
import type { Signer } from "./signing";
import type { KernelSockets, RouterChannel } from "./sockets";
import { decodeFrames, WireError, type JupyterMessage } from "./wireMessage";

/** Serves one request (the reply is the handler's business). */
export type Handler = (request: Request) => unknown;

/** Where the dispatcher sends what. */
export interface Routes {
  /** Handlers of shell and control requests by msg_type. */
  handlers: Record<string, Handler>;
  /** Run a cell; resolves true when the requests queued behind it must be aborted (error with stop_on_error). */
  execute(request: Request): Promise<boolean>;
  /** Answer a queued execute request that an earlier error aborted. */
  abort(request: Request): unknown;
  /** Whether a request must wait for the executes queued before it (a comm_open to a target a cell may register). */
  waitsForExecutes(request: Request): boolean;
  /** Deliver a message received on stdin. */
  stdin(message: JupyterMessage): void;
}

interface Queued {
  request: Request;
  isExecute: boolean;
}

/** The kernel's message loop. */
export class Dispatcher {
  private queue: Queued[] = [];
  private draining = false;

  constructor(
    private readonly sockets: KernelSockets,
    private readonly signer: Signer,
    private readonly messenger: Messenger,
    private readonly routes: Routes,
  ) {}

  /** Start receiving on shell, control and stdin; each loop ends when its socket closes. */
  listen(): void {
    for (const channel of ["shell", "control", "stdin"] as const) void this.receive(channel);
  }

  private async receive(channel: RouterChannel): Promise<void> {
    try {
      for await (const frames of this.sockets.routers[channel]) {
        let request: Request;
        try {
          const { identities, message } = decodeFrames(frames, this.signer);
          request = { channel, identities, message };
        } catch (e) {
          kernelLog(`rejected a message on ${channel}: ${e instanceof WireError ? e.message : String(e)}`);
          continue;
        }
        if (channel === "stdin") this.routes.stdin(request.message);
        else this.route(request);
      }
    } catch (e) {
      kernelLog(`${channel} receive loop ended: ${(e as Error).message}`);
    }
  }

  private route(request: Request): void {
    const isExecute = request.message.header.msg_type === "execute_request" && request.channel === "shell";
    if (isExecute || (this.draining && this.routes.waitsForExecutes(request))) {
      this.queue.push({ request, isExecute });
      if (!this.draining) void this.drain();
      return;
    }
    void this.serve(request, () => this.handle(request));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    for (let item = this.queue.shift(); item; item = this.queue.shift()) {
      const { request, isExecute } = item;
      if (!isExecute) {
        await this.serve(request, () => this.handle(request));
        continue;
      }
      let abortQueued = false;
      await this.serve(request, async () => {
        abortQueued = await this.routes.execute(request);
      });
      if (abortQueued) {
        const aborted = this.queue.filter((q) => q.isExecute);
        this.queue = this.queue.filter((q) => !q.isExecute);
        for (const q of aborted) await this.serve(q.request, () => this.routes.abort(q.request));
      }
    }
    this.draining = false;
  }

  private async handle(request: Request): Promise<void> {
    const type = request.message.header.msg_type;
    // Only the handlers' own keys: "__proto__" or "constructor" must not find Object.prototype's members.
    const handler = Object.hasOwn(this.routes.handlers, type) ? this.routes.handlers[type] : undefined;
    if (handler) await handler(request);
    else kernelLog(`unknown message type ${JSON.stringify(type)} on ${request.channel} ignored`);
  }

  private serve(request: Request, fn: () => unknown): Promise<void> {
    return runInRequest(request, async () => {
      void this.messenger.status(request.message, "busy");
      try {
        await fn();
      } catch (e) {
        kernelLog(`${request.message.header.msg_type} failed: ${(e as Error).stack ?? String(e)}`);
      } finally {
        void this.messenger.status(request.message, "idle");
      }
    });
  }
}
