// Builds, signs and sends the kernel's messages: replies on the request's channel, broadcasts on iopub, and
// prompts on stdin. Stream output is coalesced (a loop printing thousands of lines sends a few messages) and
// always flushed before any other iopub message, so outputs keep their order.
import { randomUUID } from "node:crypto";
import { kernelLog } from "./log";
import type { Request } from "./requestContext";
import type { Signer } from "./signing";
import type { KernelSockets } from "./sockets";
import { encodeMessage, makeHeader, type JupyterMessage } from "./wireMessage";

/** Stream names of the `stream` message. */
export type StreamName = "stdout" | "stderr";

/** Above this many pending characters a stream is sent at once rather than on the next turn of the event loop. */
const STREAM_CHUNK = 64 * 1024;

interface PendingStream {
  parent: JupyterMessage | undefined;
  name: StreamName;
  text: string;
}

/** Sends messages for one kernel session. */
export class Messenger {
  /** The kernel's session id (every header it sends carries it). */
  readonly session = randomUUID();
  private pending: PendingStream | undefined;
  private flushScheduled = false;

  constructor(
    private readonly sockets: KernelSockets,
    private readonly signer: Signer,
  ) {}

  /** Answer `request` on its own channel. */
  reply(request: Request, msgType: string, content: Record<string, unknown>): Promise<void> {
    const frames = encodeMessage(request.identities, this.message(request.message, msgType, content, {}, []), this.signer);
    return this.deliver(this.sockets.routers[request.channel], frames, msgType);
  }

  /** Broadcast on iopub with `parent` as the parent header (none for messages that answer nothing). */
  publish(
    parent: JupyterMessage | undefined,
    msgType: string,
    content: Record<string, unknown>,
    metadata: Record<string, unknown> = {},
    buffers: Buffer[] = [],
  ): Promise<void> {
    this.flushStreams();
    return this.publishNow(parent, msgType, content, metadata, buffers);
  }

  /** Publish `status` busy or idle for `parent`. */
  status(parent: JupyterMessage, state: "busy" | "idle"): Promise<void> {
    return this.publish(parent, "status", { execution_state: state });
  }

  /** Append text to a stream; sent on the next turn of the event loop or before the next iopub message. */
  stream(parent: JupyterMessage | undefined, name: StreamName, text: string): void {
    if (this.pending && (this.pending.parent !== parent || this.pending.name !== name)) this.flushStreams();
    if (this.pending) this.pending.text += text;
    else this.pending = { parent, name, text };
    if (this.pending.text.length >= STREAM_CHUNK) {
      this.flushStreams();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flushStreams();
      });
    }
  }

  /** Send an `input_request` on stdin to the client that sent `request` (the spec routes it by the shell identities). */
  promptOnStdin(request: Request, content: Record<string, unknown>): Promise<void> {
    const frames = encodeMessage(request.identities, this.message(request.message, "input_request", content, {}, []), this.signer);
    return this.deliver(this.sockets.routers.stdin, frames, "input_request");
  }

  /** Send pending stream text now. */
  flushStreams(): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending && pending.text) void this.publishNow(pending.parent, "stream", { name: pending.name, text: pending.text }, {}, []);
  }

  private publishNow(
    parent: JupyterMessage | undefined,
    msgType: string,
    content: Record<string, unknown>,
    metadata: Record<string, unknown>,
    buffers: Buffer[],
  ): Promise<void> {
    // The topic frame mirrors ipykernel's ("kernel.<session>.<msg_type>"); subscribers filter on nothing.
    const topic = Buffer.from(`kernel.${this.session}.${msgType}`);
    const frames = encodeMessage([topic], this.message(parent, msgType, content, metadata, buffers), this.signer);
    return this.deliver(this.sockets.iopub, frames, msgType);
  }

  private message(
    parent: JupyterMessage | undefined,
    msgType: string,
    content: Record<string, unknown>,
    metadata: Record<string, unknown>,
    buffers: Buffer[],
  ): JupyterMessage {
    return { header: makeHeader(msgType, this.session), parent_header: parent ? parent.header : {}, metadata, content, buffers };
  }

  private async deliver(socket: Parameters<KernelSockets["send"]>[0], frames: Buffer[], msgType: string): Promise<void> {
    try {
      await this.sockets.send(socket, frames);
    } catch (e) {
      kernelLog(`could not send ${msgType}: ${(e as Error).message}`);
    }
  }
}
