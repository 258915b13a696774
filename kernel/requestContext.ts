// Which request a piece of running code belongs to. Output, displays and comm messages produced by a cell (or
// by a comm handler, or by a timer either of them started) are sent with that request as their parent, so
// frontends put them where they belong even when requests overlap (comm traffic during a running cell).
import { AsyncLocalStorage } from "node:async_hooks";
import type { RouterChannel } from "./sockets";
import type { JupyterMessage } from "./wireMessage";

/** A request being served: the message and how to answer it. */
export interface Request {
  channel: RouterChannel;
  identities: Buffer[];
  message: JupyterMessage;
}

const storage = new AsyncLocalStorage<Request>();
let latestExecute: Request | undefined;

/** Run `fn` (and everything it schedules) as part of `request`. */
export function runInRequest<T>(request: Request, fn: () => T): T {
  if (request.message.header.msg_type === "execute_request") latestExecute = request;
  return storage.run(request, fn);
}

/** The request the calling code belongs to; outside any, the latest execute request (where output would go). */
export function currentRequest(): Request | undefined {
  return storage.getStore() ?? latestExecute;
}
