// The comm API the kernel offers to code running in it (widgets, cells): Jupyter's comm_open / comm_msg /
// comm_close, with binary buffers, served while a cell is running.

/** Binary buffers travel as raw frames after the message parts, never inside JSON. */
export type Buffers = (ArrayBuffer | ArrayBufferView)[];

/** One open comm between the kernel and a frontend. */
export interface Comm {
  readonly commId: string;
  readonly targetName: string;
  /** Send comm_msg with `data`, optional metadata and buffers. */
  send(data: Record<string, unknown>, metadata?: Record<string, unknown>, buffers?: Buffers): void;
  /** Send comm_close and forget the comm. */
  close(data?: Record<string, unknown>): void;
  /**
   * Called for every comm_msg from the frontend. A handler that returns a promise keeps the kernel's status
   * busy until it settles, as a cell does (a long run a button started shows in the frontend's indicator).
   */
  onMsg(handler: (data: Record<string, unknown>, buffers: DataView[]) => unknown): void;
  /** Called when the frontend closes the comm. */
  onClose(handler: (data: Record<string, unknown>) => void): void;
}

/** Opens comms and accepts the frontend's. */
export interface CommManager {
  /** Open a comm from the kernel (comm_open on iopub). */
  open(targetName: string, data: Record<string, unknown>, metadata?: Record<string, unknown>, buffers?: Buffers, commId?: string): Comm;
  /** Accept frontend-opened comms for `targetName`. */
  registerTarget(targetName: string, handler: (comm: Comm, data: Record<string, unknown>, buffers: DataView[]) => void): void;
}
