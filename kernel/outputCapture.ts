// Routes process.stdout / process.stderr (console.log, console.error, library progress bars) to iopub `stream`
// messages, parented to the request the writing code belongs to.
import { TextDecoder } from "node:util";
import type { Messenger, StreamName } from "./messenger";
import { currentRequest } from "./requestContext";

type Write = typeof process.stdout.write;

/** Replace the write methods of stdout and stderr; the returned function restores them. */
export function captureOutput(messenger: Messenger): () => void {
  const restore = [hook(process.stdout, "stdout", messenger), hook(process.stderr, "stderr", messenger)];
  return () => restore.forEach((r) => r());
}

function hook(stream: NodeJS.WriteStream, name: StreamName, messenger: Messenger): () => void {
  const original = stream.write;
  // One decoder per stream keeps a multi-byte character split across two writes intact.
  const decoder = new TextDecoder();
  const write = (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean => {
    const text = typeof chunk === "string" ? chunk : decoder.decode(chunk as Uint8Array, { stream: true });
    messenger.stream(currentRequest()?.message, name, text);
    const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
    if (typeof done === "function") process.nextTick(done as () => void);
    return true;
  };
  stream.write = write as Write;
  return () => {
    stream.write = original;
  };
}
