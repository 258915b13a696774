// input(): asks the frontend for a line of text over the stdin channel (input_request / input_reply), for the
// execute request the calling cell belongs to, when that request allowed it.
import type { Messenger } from "./messenger";
import { currentRequest } from "./requestContext";
import type { JupyterMessage } from "./wireMessage";

interface Pending {
  resolve(value: string): void;
  reject(error: Error): void;
}

/** Pending prompts and their answers. */
export class StdinPrompts {
  private pending: Pending | undefined;

  constructor(private readonly messenger: Messenger) {}

  /** Prompt for one line; rejects when the frontend does not take input or the kernel is interrupted. */
  ask(prompt: string, password: boolean): Promise<string> {
    const request = currentRequest();
    if (!request || request.message.header.msg_type !== "execute_request" || request.message.content.allow_stdin !== true) {
      return Promise.reject(new Error("input(): this frontend does not accept input (allow_stdin is false)"));
    }
    if (this.pending) return Promise.reject(new Error("input(): another prompt is still waiting for its answer"));
    return new Promise<string>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.messenger.flushStreams();
      void this.messenger.promptOnStdin(request, { prompt, password });
    });
  }

  /** Deliver an input_reply. */
  answer(message: JupyterMessage): void {
    const pending = this.pending;
    this.pending = undefined;
    if (message.header.msg_type === "input_reply" && pending) pending.resolve(String(message.content.value ?? ""));
  }

  /** Give up on a waiting prompt (kernel interrupt). */
  cancel(): void {
    this.pending?.reject(new Error("input(): interrupted"));
    this.pending = undefined;
  }
}
