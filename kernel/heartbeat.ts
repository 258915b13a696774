// Starts and stops the heartbeat thread (heartbeatWorker.ts) that echoes pings on the connection file's hb port.
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { endpoint, isIpv6, type ConnectionInfo } from "./connection";
import type { HeartbeatConfig } from "./heartbeatWorker";
import { kernelLog } from "./log";

/** A running heartbeat thread. */
export interface Heartbeat {
  /** Close the socket and wait for the thread to end. */
  stop(): Promise<void>;
}

/** Start the heartbeat thread; resolves once its socket is bound, rejects if binding failed. */
export function startHeartbeat(info: ConnectionInfo): Promise<Heartbeat> {
  const config: HeartbeatConfig = { address: endpoint(info, "hb"), ipv6: isIpv6(info) };
  const worker = new Worker(path.join(__dirname, "heartbeatWorker.js"), { workerData: config });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  // After start-up a failing heartbeat thread is logged: clients notice the silence, the kernel carries on.
  worker.on("error", (e) => kernelLog(`heartbeat thread failed: ${e.message}`));
  return new Promise((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", (m: { ready?: boolean; error?: string }) => {
      if (m.error !== undefined) {
        reject(new Error(`heartbeat: ${m.error}`));
        return;
      }
      resolve({
        stop: async () => {
          worker.postMessage("stop");
          await exited;
        },
      });
    });
  });
}
