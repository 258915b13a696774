// An in-process CommManager (kernel/commTypes.ts) that records what the kernel side sends and lets a test
// play the frontend, for unit tests of the widget protocol without a kernel.
import type { Buffers, Comm, CommManager } from "../../kernel/commTypes";

/** One comm_msg the kernel side sent. */
export interface SentMessage {
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  buffers: Buffers;
}

/** A comm whose kernel side is the code under test and whose frontend side is the test. */
export class FakeComm implements Comm {
  readonly sent: SentMessage[] = [];
  closedByKernel = false;
  private readonly msgHandlers: ((data: Record<string, unknown>, buffers: DataView[]) => void)[] = [];
  private readonly closeHandlers: ((data: Record<string, unknown>) => void)[] = [];

  constructor(
    readonly commId: string,
    readonly targetName: string,
  ) {}

  /** Record a comm_msg. */
  send(data: Record<string, unknown>, metadata?: Record<string, unknown>, buffers: Buffers = []): void {
    if (this.closedByKernel) throw new Error(`comm ${this.commId} is closed`);
    this.sent.push({ data, metadata, buffers });
  }

  /** Record a comm_close. */
  close(): void {
    this.closedByKernel = true;
  }

  /** Register a comm_msg handler. */
  onMsg(handler: (data: Record<string, unknown>, buffers: DataView[]) => void): void {
    this.msgHandlers.push(handler);
  }

  /** Register a comm_close handler. */
  onClose(handler: (data: Record<string, unknown>) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Deliver a comm_msg from the frontend, after a JSON round trip as on the wire. */
  fromFrontend(data: Record<string, unknown>, buffers: DataView[] = []): void {
    const wire = JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
    for (const handler of this.msgHandlers) handler(wire, buffers);
  }

  /** Deliver a comm_close from the frontend. */
  closeFromFrontend(): void {
    for (const handler of this.closeHandlers) handler({});
  }

  /** Messages sent with this `method`. */
  sentWith(method: string): SentMessage[] {
    return this.sent.filter((m) => m.data.method === method);
  }
}

/** One comm_open the kernel side sent. */
export interface OpenedComm {
  comm: FakeComm;
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  buffers: Buffers;
}

/** Records opened comms and registered targets; opens frontend comms on demand. */
export class FakeCommManager implements CommManager {
  readonly opened: OpenedComm[] = [];
  readonly targets = new Map<string, (comm: Comm, data: Record<string, unknown>, buffers: DataView[]) => void>();
  private nextId = 0;

  /** Record a comm_open from the kernel. */
  open(
    targetName: string,
    data: Record<string, unknown>,
    metadata?: Record<string, unknown>,
    buffers: Buffers = [],
    commId?: string,
  ): Comm {
    const comm = new FakeComm(commId ?? `kernel-comm-${this.nextId++}`, targetName);
    this.opened.push({ comm, data: JSON.parse(JSON.stringify(data)), metadata, buffers });
    return comm;
  }

  /** Record a target handler. */
  registerTarget(targetName: string, handler: (comm: Comm, data: Record<string, unknown>, buffers: DataView[]) => void): void {
    this.targets.set(targetName, handler);
  }

  /** Open a comm from the frontend on `targetName`; throws if the kernel registered no such target. */
  openFromFrontend(targetName: string, data: Record<string, unknown> = {}, buffers: DataView[] = []): FakeComm {
    const handler = this.targets.get(targetName);
    if (!handler) throw new Error(`no comm target ${targetName}`);
    const comm = new FakeComm(`frontend-comm-${this.nextId++}`, targetName);
    handler(comm, JSON.parse(JSON.stringify(data)), buffers);
    return comm;
  }

  /** The comm the kernel opened for model `commId`. */
  comm(commId: string): FakeComm {
    const found = this.opened.find((o) => o.comm.commId === commId);
    if (!found) throw new Error(`no comm ${commId}`);
    return found.comm;
  }
}
