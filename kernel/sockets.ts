// The kernel's ZeroMQ sockets, bound only to the endpoints the connection file names (the heartbeat lives in
// its own thread, see heartbeat.ts). Sends are serialised per socket because zeromq.js allows one pending send.
import * as zmq from "zeromq";
import { endpoint, isIpv6, type ConnectionInfo } from "./connection";

/** The request/reply channels (ROUTER sockets). */
export type RouterChannel = "shell" | "control" | "stdin";

/** Bound shell/control/stdin ROUTERs and the iopub PUBLISHER. */
export class KernelSockets {
  private readonly tails = new Map<zmq.Socket, Promise<void>>();

  private constructor(
    readonly routers: Record<RouterChannel, zmq.Router>,
    readonly iopub: zmq.Publisher,
  ) {}

  /** Create the sockets and bind each to its connection-file endpoint. */
  static async bind(info: ConnectionInfo): Promise<KernelSockets> {
    const routers = { shell: new zmq.Router(), control: new zmq.Router(), stdin: new zmq.Router() };
    const iopub = new zmq.Publisher();
    const all: [zmq.Socket, string][] = [
      [routers.shell, endpoint(info, "shell")],
      [routers.control, endpoint(info, "control")],
      [routers.stdin, endpoint(info, "stdin")],
      [iopub, endpoint(info, "iopub")],
    ];
    for (const [socket, address] of all) {
      socket.ipv6 = isIpv6(info);
      // Replies still queued when we close (the shutdown reply) get a moment to leave; never block exit forever.
      socket.linger = 1000;
      await socket.bind(address);
    }
    return new KernelSockets(routers, iopub);
  }

  /** Send one multipart message, after any send already queued on the same socket. */
  send(socket: zmq.Router | zmq.Publisher, frames: Buffer[]): Promise<void> {
    const previous = this.tails.get(socket) ?? Promise.resolve();
    const next = previous.then(() => socket.send(frames));
    // A failed send must not wedge the queue; the failure is reported to the caller of this send only.
    this.tails.set(
      socket,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Wait for queued sends, then close every socket. */
  async close(): Promise<void> {
    await Promise.all([...this.tails.values()]);
    for (const socket of [...Object.values(this.routers), this.iopub]) socket.close();
  }
}
