// The connection file Jupyter writes for a kernel: where to bind each channel and the signing key.
import * as fs from "node:fs";

/** The channels a kernel binds. */
export type Channel = "shell" | "control" | "stdin" | "iopub" | "hb";

/** A parsed connection file. */
export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  key: string;
  signatureScheme: string;
  ports: Record<Channel, number>;
}

const CHANNELS: readonly Channel[] = ["shell", "control", "stdin", "iopub", "hb"];

/** Read and validate a connection file; throws with the reason when it is unusable. */
export function readConnectionFile(file: string): ConnectionInfo {
  const raw = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  const transport = raw.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc")
    throw new Error(`connection file ${file}: unsupported transport ${JSON.stringify(transport)}`);
  if (typeof raw.ip !== "string" || raw.ip === "") throw new Error(`connection file ${file}: no ip`);
  const ports = {} as Record<Channel, number>;
  for (const channel of CHANNELS) {
    const port = raw[`${channel}_port`];
    // Port 0 would mean "pick one", which the client could not learn without rewriting its file: refuse it.
    if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535)
      throw new Error(`connection file ${file}: bad ${channel}_port ${JSON.stringify(port)}`);
    ports[channel] = port;
  }
  const key = typeof raw.key === "string" ? raw.key : "";
  const signatureScheme = typeof raw.signature_scheme === "string" ? raw.signature_scheme : "hmac-sha256";
  return { transport, ip: raw.ip, key, signatureScheme, ports };
}

/** The ZeroMQ endpoint for `channel`, exactly as the connection file names it. */
export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info.ports[channel];
  if (info.transport === "ipc") return `ipc://${info.ip}-${port}`;
  return info.ip.includes(":") ? `tcp://[${info.ip}]:${port}` : `tcp://${info.ip}:${port}`;
}

/** Whether the endpoints are IPv6 addresses (ZeroMQ sockets must be told before binding). */
export function isIpv6(info: ConnectionInfo): boolean {
  return info.transport === "tcp" && info.ip.includes(":");
}
