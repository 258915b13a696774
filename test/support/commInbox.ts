// Collects the comm messages a frontend-side comm receives, so a test can await the next one that matches
// (with a bound) instead of sleeping.
import type { Kernel, KernelMessage } from "@jupyterlab/services";
import { withTimeout } from "./withTimeout";

/** A comm message as a frontend sees it: data, buffers as bytes, and the id of the request it answers. */
export interface ReceivedMessage {
  data: Record<string, unknown>;
  buffers: Uint8Array[];
  parentMsgId: string;
}

/** The bytes of a buffer as @jupyterlab/services delivers it (DataView, typed array or ArrayBuffer). */
export function bytesOf(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
}

/** Turn a comm_open or comm_msg into a ReceivedMessage. */
export function received(msg: KernelMessage.ICommMsgMsg | KernelMessage.ICommOpenMsg): ReceivedMessage {
  return {
    data: msg.content.data as Record<string, unknown>,
    buffers: (msg.buffers ?? []).map(bytesOf),
    parentMsgId: String((msg.parent_header as { msg_id?: string }).msg_id ?? ""),
  };
}

/** Every message of one comm, in arrival order, with waits for the next matching one. */
export class CommInbox {
  private readonly pending: ReceivedMessage[] = [];
  private readonly waiters: { match: (m: ReceivedMessage) => boolean; resolve: (m: ReceivedMessage) => void }[] = [];
  /** Resolves when the kernel closes the comm. */
  readonly closed: Promise<void>;

  constructor(comm: Kernel.IComm) {
    let onClosed!: () => void;
    this.closed = new Promise((resolve) => (onClosed = resolve));
    comm.onMsg = (msg) => this.deliver(received(msg));
    comm.onClose = () => onClosed();
  }

  /** The first unconsumed message matching `match` (removed from the inbox), waiting up to `timeoutMs`. */
  next(match: (m: ReceivedMessage) => boolean, what: string, timeoutMs = 10_000): Promise<ReceivedMessage> {
    const i = this.pending.findIndex(match);
    if (i >= 0) return Promise.resolve(this.pending.splice(i, 1)[0]);
    const waiter = { match, resolve: (_: ReceivedMessage) => {} };
    const arrived = new Promise<ReceivedMessage>((resolve) => (waiter.resolve = resolve));
    this.waiters.push(waiter);
    // A waiter that timed out must not swallow a later message meant for another wait.
    return withTimeout(arrived, timeoutMs, what).finally(() => {
      const w = this.waiters.indexOf(waiter);
      if (w >= 0) this.waiters.splice(w, 1);
    });
  }

  /** The next message with this `method`. */
  nextMethod(method: string, timeoutMs?: number): Promise<ReceivedMessage> {
    return this.next((m) => m.data.method === method, `comm message with method ${method}`, timeoutMs);
  }

  private deliver(message: ReceivedMessage): void {
    const w = this.waiters.findIndex((waiter) => waiter.match(message));
    if (w >= 0) this.waiters.splice(w, 1)[0].resolve(message);
    else this.pending.push(message);
  }
}
