// A cell cannot end the kernel's process: each way out JavaScript offers fails the cell (or, from a timer, is
// logged) and the kernel keeps answering over ZeroMQ; the kernel's own shutdown still exits 0.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ZmqKernel } from "./support/zmqKernel";

/** Run `code` and expect an error reply whose message says `call` was refused. */
async function refused(kernel: ZmqKernel, code: string, call: RegExp): Promise<void> {
  const reply = await kernel.execute(code);
  assert.equal(reply.status, "error", code);
  assert.equal(reply.ename, "ProcessExit", code);
  assert.match(String(reply.evalue), call, code);
}

test("N13: process.reallyExit in a cell fails the cell and the kernel stays", async () => {
  const kernel = await ZmqKernel.start();
  try {
    await refused(kernel, "(process as any).reallyExit(4)", /^process\.reallyExit\(4\) was called in a cell; the kernel keeps running/);
    assert.equal((await kernel.execute("setTimeout(() => (process as any).reallyExit(5), 10);")).status, "ok");
    await kernel.waitForLog(/process\.reallyExit\(5\) was called in a cell/);
    assert.equal((await kernel.execute("1 + 1")).status, "ok");
    assert.equal(kernel.exit, undefined, "the kernel process still runs");
  } finally {
    assert.deepEqual(await kernel.stop(), { code: 0, signal: null }, "shutdown_request still exits 0 through the real exit");
  }
});

test("N13: process.abort and signals to the kernel's own process or group fail the cell; other signals pass", async () => {
  const kernel = await ZmqKernel.start();
  try {
    await refused(kernel, "process.abort()", /^process\.abort\(\) was called/);
    await refused(kernel, "process.kill(process.pid, 'SIGKILL')", /^process\.kill\(\d+, SIGKILL\) was called/);
    await refused(kernel, "process.kill(String(process.pid) as any)", /^process\.kill\(\d+, SIGTERM\) was called/);
    await refused(kernel, "process.kill(-process.pid, 'SIGTERM')", /^process\.kill\(-\d+, SIGTERM\)/);
    await refused(kernel, "process.kill(0, 'SIGTERM')", /^process\.kill\(0, SIGTERM\)/);
    await refused(kernel, "(process as any)._kill(process.pid, 9)", /^process\._kill\(\d+, 9\) was called/);
    // A pid that reads differently on each conversion is read once: what was checked is what is signalled.
    const twoFaced = await kernel.execute(
      "let reads = 0;\n" +
        "(process as any)._kill({ valueOf: () => (reads++ === 0 ? 1 << 30 : process.pid) }, 9);\n" +
        "if (reads !== 1) throw new Error(`the pid was read ${reads} times`);",
    );
    assert.equal(twoFaced.status, "ok", JSON.stringify(twoFaced));
    const probe = await kernel.execute("if (process.kill(process.pid, 0) !== true) throw new Error('signal 0 must pass');");
    assert.equal(probe.status, "ok", JSON.stringify(probe));
    const child = await kernel.execute(
      "import { spawn } from 'node:child_process';\n" +
        "const sleeper = spawn('sleep', ['30']);\n" +
        "await new Promise((resolve) => { sleeper.once('exit', resolve); process.kill(sleeper.pid!, 'SIGTERM'); });",
    );
    assert.equal(child.status, "ok", `a cell still signals its own child: ${JSON.stringify(child)}`);
    assert.equal(kernel.exit, undefined, "the kernel process still runs");
  } finally {
    assert.deepEqual(await kernel.stop(), { code: 0, signal: null });
  }
});
