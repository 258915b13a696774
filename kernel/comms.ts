// Jupyter comms (comm_open / comm_msg / comm_close in both directions, comm_info) behind the CommManager API of
// commTypes.ts. Outgoing buffers become raw frames after the message; incoming frames reach handlers as DataViews.
import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import type { Buffers, Comm, CommManager } from "./commTypes";
import { kernelLog } from "./log";
import type { Messenger } from "./messenger";
import { currentRequest } from "./requestContext";
import type { JupyterMessage } from "./wireMessage";

type Data = Record<string, unknown>;
type OpenHandler = (comm: Comm, data: Data, buffers: DataView[]) => void;

/** The kernel's comm registry: open comms by id and the targets frontends may open comms to. */
export class KernelCommManager implements CommManager {
  private readonly comms = new Map<string, KernelComm>();
  private readonly targets = new Map<string, OpenHandler>();

  constructor(private readonly messenger: Messenger) {}

  /** Open a comm from the kernel (comm_open on iopub). */
  open(targetName: string, data: Data, metadata: Data = {}, buffers: Buffers = [], commId: string = randomUUID()): Comm {
    if (this.comms.has(commId)) throw new Error(`comm ${commId} is already open`);
    const comm = new KernelComm(commId, targetName, this);
    this.comms.set(commId, comm);
    this.send("comm_open", { comm_id: commId, target_name: targetName, data }, metadata, buffers);
    return comm;
  }

  /** Accept frontend-opened comms for `targetName` (a later registration replaces an earlier one). */
  registerTarget(targetName: string, handler: OpenHandler): void {
    this.targets.set(targetName, handler);
  }

  /** Handle a frontend's comm_open: hand it to its target, or close it at once when there is none (per the spec). */
  handleOpen(message: JupyterMessage): void {
    const { comm_id: commId, target_name: targetName, data } = message.content as { comm_id?: unknown; target_name?: unknown; data?: Data };
    if (typeof commId !== "string" || typeof targetName !== "string") return kernelLog("comm_open without comm_id/target_name ignored");
    const handler = this.targets.get(targetName);
    if (!handler) {
      kernelLog(`comm_open for unknown target ${JSON.stringify(targetName)}: closing ${commId}`);
      this.send("comm_close", { comm_id: commId, data: {} });
      return;
    }
    const comm = new KernelComm(commId, targetName, this);
    this.comms.set(commId, comm);
    guarded(`comm target ${targetName}`, () => handler(comm, data ?? {}, dataViews(message.buffers)));
  }

  /** Handle a frontend's comm_msg; resolves when the handlers' work has (the request stays busy until then). */
  async handleMsg(message: JupyterMessage): Promise<void> {
    const { comm_id: commId, data } = message.content as { comm_id?: unknown; data?: Data };
    const comm = typeof commId === "string" ? this.comms.get(commId) : undefined;
    if (!comm) return kernelLog(`comm_msg for unknown comm ${JSON.stringify(commId)} ignored`);
    await comm.received(data ?? {}, dataViews(message.buffers));
  }

  /** Handle a frontend's comm_close. */
  handleClose(message: JupyterMessage): void {
    const { comm_id: commId, data } = message.content as { comm_id?: unknown; data?: Data };
    const comm = typeof commId === "string" ? this.comms.get(commId) : undefined;
    if (!comm) return;
    this.comms.delete(comm.commId);
    comm.closedByFrontend(data ?? {});
  }

  /** Whether this is a comm message for a target or comm not known yet, which cells queued before it may create. */
  awaitsEarlierCells(message: JupyterMessage): boolean {
    const { comm_id: commId, target_name: targetName } = message.content;
    switch (message.header.msg_type) {
      case "comm_open":
        return typeof targetName !== "string" || !this.targets.has(targetName);
      case "comm_msg":
      case "comm_close":
        return typeof commId !== "string" || !this.comms.has(commId);
      default:
        return false;
    }
  }

  /** The comm_info_reply `comms` map, optionally only for one target. */
  info(targetName?: string): Record<string, { target_name: string }> {
    // No prototype: a comm id is the frontend's choice, and "__proto__" must stay a key.
    const comms: Record<string, { target_name: string }> = Object.create(null);
    for (const comm of this.comms.values()) {
      if (targetName === undefined || comm.targetName === targetName) comms[comm.commId] = { target_name: comm.targetName };
    }
    return comms;
  }

  /** Publish a comm message parented to the request the calling code belongs to. */
  send(msgType: "comm_open" | "comm_msg" | "comm_close", content: Data, metadata: Data = {}, buffers: Buffers = []): void {
    void this.messenger.publish(currentRequest()?.message, msgType, content, metadata, buffers.map(toFrame));
  }

  /** Forget a comm the kernel closed. */
  forget(commId: string): void {
    this.comms.delete(commId);
  }
}

class KernelComm implements Comm {
  private readonly msgHandlers: ((data: Data, buffers: DataView[]) => void)[] = [];
  private readonly closeHandlers: ((data: Data) => void)[] = [];
  private closed = false;

  constructor(
    readonly commId: string,
    readonly targetName: string,
    private readonly manager: KernelCommManager,
  ) {}

  send(data: Data, metadata: Data = {}, buffers: Buffers = []): void {
    if (this.closed) throw new Error(`comm ${this.commId} (${this.targetName}) is closed`);
    this.manager.send("comm_msg", { comm_id: this.commId, data }, metadata, buffers);
  }

  close(data: Data = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.manager.forget(this.commId);
    this.manager.send("comm_close", { comm_id: this.commId, data });
  }

  onMsg(handler: (data: Data, buffers: DataView[]) => unknown): void {
    this.msgHandlers.push(handler);
  }

  onClose(handler: (data: Data) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Deliver a frontend comm_msg to every handler; resolves when the promises they returned have settled. */
  async received(data: Data, buffers: DataView[]): Promise<void> {
    if (this.msgHandlers.length === 0)
      return kernelLog(`comm_msg for ${this.commId} (${this.targetName}) before any onMsg handler: dropped`);
    await Promise.all(this.msgHandlers.map((handler) => guarded(`comm ${this.targetName} message handler`, () => handler(data, buffers))));
  }

  /** The frontend closed the comm. */
  closedByFrontend(data: Data): void {
    this.closed = true;
    for (const handler of this.closeHandlers) guarded(`comm ${this.targetName} close handler`, () => handler(data));
  }
}

/**
 * Run a user-supplied handler; its failure is reported (kernel log and the request's stderr) without harming the
 * kernel. Returns the handler's promise, settled either way, when it returned one.
 */
function guarded(what: string, fn: () => unknown): Promise<void> | undefined {
  const report = (e: unknown) => {
    kernelLog(`${what} failed: ${inspect(e)}`);
    process.stderr.write(`${what} failed: ${e instanceof Error ? (e.stack ?? e.message) : inspect(e)}\n`);
  };
  try {
    const result = fn();
    if (result instanceof Promise) return result.then(() => undefined, report);
  } catch (e) {
    report(e);
  }
  return undefined;
}

function dataViews(buffers: Buffer[]): DataView[] {
  return buffers.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
}

/** A buffer as its own frame; copied so that the caller may reuse its array while the frame waits to be sent. */
function toFrame(buffer: ArrayBuffer | ArrayBufferView): Buffer {
  if (buffer instanceof ArrayBuffer) return Buffer.from(new Uint8Array(buffer));
  if (ArrayBuffer.isView(buffer)) return Buffer.from(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
  throw new TypeError(`comm buffers must be ArrayBuffers or typed arrays, got ${inspect(buffer)}`);
}
