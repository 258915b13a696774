// execute_request: execution counts (incremented for store_history, never for silent runs), execute_input,
// execute_result / error on iopub, the reply, and the history record.
import { valueBundle } from "./display";
import type { CellExecutor } from "./executor";
import type { History } from "./history";
import type { Messenger } from "./messenger";
import type { Request } from "./requestContext";

/** Runs execute requests and keeps the execution count. */
export class ExecuteHandler {
  private count = 0;

  constructor(
    private readonly messenger: Messenger,
    private readonly executor: CellExecutor,
    private readonly history: History,
  ) {}

  /** Run the request's cell; resolves true if it failed and asked to stop on error. */
  async execute(request: Request): Promise<boolean> {
    const content = request.message.content;
    const code = typeof content.code === "string" ? content.code : "";
    const silent = content.silent === true;
    const storeHistory = !silent && content.store_history !== false;
    if (storeHistory) this.count++;
    const count = this.count;
    const parent = request.message;
    if (!silent) void this.messenger.publish(parent, "execute_input", { code, execution_count: count });
    const outcome = await this.executor.execute(code, storeHistory ? `In[${count}]` : "In[ ]");
    if (outcome.status === "ok") {
      let output: string | null = null;
      if (outcome.value && !silent) {
        try {
          const data = valueBundle(outcome.value.value);
          if (data) {
            output = typeof data["text/plain"] === "string" ? data["text/plain"] : null;
            void this.messenger.publish(parent, "execute_result", { execution_count: count, data, metadata: {} });
          }
        } catch (e) {
          // A value whose own rendering fails is reported, not lost.
          process.stderr.write(`could not display the result: ${(e as Error).message}\n`);
        }
      }
      if (storeHistory) this.history.record(count, code, output);
      await this.messenger.reply(request, "execute_reply", { status: "ok", execution_count: count, payload: [], user_expressions: {} });
      return false;
    }
    const { ename, evalue, traceback } = outcome;
    if (storeHistory) this.history.record(count, code, null);
    if (!silent) void this.messenger.publish(parent, "error", { ename, evalue, traceback });
    await this.messenger.reply(request, "execute_reply", { status: "error", execution_count: count, ename, evalue, traceback });
    return content.stop_on_error !== false;
  }

  /** Answer an execute request that an earlier failing cell aborted (as ipykernel does). */
  async abort(request: Request): Promise<void> {
    await this.messenger.reply(request, "execute_reply", { status: "aborted", execution_count: this.count });
  }
}
