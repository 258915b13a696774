// The shell and control requests other than execute: introspection (complete, inspect, is_complete), history,
// kernel info, comms, interrupt and shutdown.
import type { KernelCommManager } from "./comms";
import type { Handler } from "./dispatcher";
import type { CellExecutor } from "./executor";
import type { History } from "./history";
import { kernelInfo } from "./kernelInfo";
import type { Messenger } from "./messenger";

/** The kernel-wide actions requests can trigger. */
export interface Lifecycle {
  interrupt(): void;
  shutdown(restart: boolean): Promise<void>;
}

/** What the handlers work with. */
export interface HandlerDeps {
  messenger: Messenger;
  executor: CellExecutor;
  history: History;
  comms: KernelCommManager;
  lifecycle: Lifecycle;
}

/** Handlers by msg_type. */
export function requestHandlers({ messenger, executor, history, comms, lifecycle }: HandlerDeps): Record<string, Handler> {
  return {
    kernel_info_request: (r) => messenger.reply(r, "kernel_info_reply", kernelInfo()),
    complete_request: (r) => {
      const { code, cursor } = codeAndCursor(r.message.content);
      const c = executor.complete(code, cursor);
      return messenger.reply(r, "complete_reply", {
        status: "ok",
        matches: c.matches,
        cursor_start: toCodePoints(code, c.start),
        cursor_end: toCodePoints(code, c.end),
        metadata: {},
      });
    },
    inspect_request: (r) => {
      const { code, cursor } = codeAndCursor(r.message.content);
      const text = executor.inspect(code, cursor);
      return messenger.reply(r, "inspect_reply", {
        status: "ok",
        found: text !== undefined,
        data: text === undefined ? {} : { "text/plain": text },
        metadata: {},
      });
    },
    is_complete_request: (r) => {
      const { code } = codeAndCursor(r.message.content);
      const c = executor.isComplete(code);
      return messenger.reply(
        r,
        "is_complete_reply",
        c.complete ? { status: "complete" } : { status: "incomplete", indent: c.indent ?? "" },
      );
    },
    history_request: (r) => messenger.reply(r, "history_reply", { status: "ok", history: history.query(r.message.content) }),
    comm_info_request: (r) => {
      const target = r.message.content.target_name;
      return messenger.reply(r, "comm_info_reply", { status: "ok", comms: comms.info(typeof target === "string" ? target : undefined) });
    },
    comm_open: (r) => comms.handleOpen(r.message),
    comm_msg: (r) => comms.handleMsg(r.message),
    comm_close: (r) => comms.handleClose(r.message),
    interrupt_request: (r) => {
      lifecycle.interrupt();
      return messenger.reply(r, "interrupt_reply", { status: "ok" });
    },
    shutdown_request: async (r) => {
      const restart = r.message.content.restart === true;
      await messenger.reply(r, "shutdown_reply", { status: "ok", restart });
      // After this handler's idle status is queued: closing the sockets waits for queued sends.
      setImmediate(() => void lifecycle.shutdown(restart));
    },
  };
}

/** The request's code and cursor, the cursor converted from Unicode code points (protocol 5.2+) to UTF-16. */
function codeAndCursor(content: Record<string, unknown>): { code: string; cursor: number } {
  const code = typeof content.code === "string" ? content.code : "";
  const points = typeof content.cursor_pos === "number" ? content.cursor_pos : Infinity;
  let cursor = 0;
  for (let seen = 0; cursor < code.length && seen < points; seen++) cursor += (code.codePointAt(cursor) ?? 0) > 0xffff ? 2 : 1;
  return { code, cursor };
}

/** A UTF-16 offset into `code` as a count of code points. */
function toCodePoints(code: string, offset: number): number {
  return [...code.slice(0, offset)].length;
}
