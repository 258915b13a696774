// The heartbeat echo, in its own thread so that it keeps answering while a cell blocks the main thread.
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";

/** What the main thread passes to this worker. */
export interface HeartbeatConfig {
  address: string;
  ipv6: boolean;
}

/** Bind the REP socket, report readiness, echo every ping until told to stop. */
async function serve(config: HeartbeatConfig): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error("heartbeatWorker must run as a worker thread");
  const socket = new zmq.Reply();
  socket.ipv6 = config.ipv6;
  socket.linger = 0;
  try {
    await socket.bind(config.address);
  } catch (e) {
    port.postMessage({ error: (e as Error).message });
    socket.close();
    return;
  }
  // Closing the socket from here (not by terminating the thread) is what lets zeromq shut down cleanly.
  port.on("message", () => {
    socket.close();
    port.close();
  });
  port.postMessage({ ready: true });
  for await (const frames of socket) await socket.send(frames);
}

void serve(workerData as HeartbeatConfig);
