// The widget protocol end to end: a real Jupyter server (jupyter_server 2 from .venv), the FateZero kernel over
// ZeroMQ, and @jupyterlab/services as the frontend, exactly as JupyterLab's widget manager talks to a kernel.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Kernel } from "@jupyterlab/services";
import { CommInbox, received, type ReceivedMessage } from "./support/commInbox";
import { execute, startJupyterServer, type ExecuteOutcome, type JupyterServer } from "./support/jupyterServer";
import { withTimeout } from "./support/withTimeout";

const BIN = path.resolve(__dirname, "../../bin/fatezero.js");

let server: JupyterServer | undefined;
let kernel: Kernel.IKernelConnection;
// Widget comms the kernel opened, by model id, each with its comm_open and an inbox for what follows.
const widgets = new Map<string, { comm: Kernel.IComm; open: ReceivedMessage; metadata: Record<string, unknown>; inbox: CommInbox }>();

// Cells print what the test checks: stdout does not depend on how the kernel formats execute_result.
function stdout(outcome: ExecuteOutcome): string {
  assert.equal(outcome.status, "ok", `${outcome.error?.ename}: ${outcome.error?.evalue}\n${outcome.stderr}`);
  return outcome.stdout.trim();
}

async function run(code: string): Promise<string> {
  return stdout(await execute(kernel, code, 20_000));
}

function widget(modelId: string) {
  const w = widgets.get(modelId);
  assert.ok(w, `no comm_open for ${modelId}; got ${[...widgets.keys()].join(", ")}`);
  return w;
}

before(async () => {
  server = await startJupyterServer({
    prepare: (dirs, env) => {
      const r = spawnSync(process.execPath, [BIN, "kernel", "install", "--prefix", dirs.prefix], {
        env,
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(r.status, 0, `fatezero kernel install: ${r.stderr}${r.stdout}`);
    },
  });
});

after(async () => {
  await server?.stop();
});

test("the harness runs ipykernel: 1+1", async () => {
  const python = await server!.startKernel("python3");
  try {
    const outcome = await execute(python, "1+1");
    assert.equal(outcome.status, "ok");
    assert.deepEqual(outcome.bundles, [{ "text/plain": "2" }]);
  } finally {
    await withTimeout(python.shutdown(), 10_000, "python3 kernel shutdown");
  }
});

test("a cell's widget model opens on the frontend with its state, buffer paths and protocol 2.1.0", async () => {
  kernel = await server!.startKernel("fatezero");
  kernel.registerCommTarget("jupyter.widget", (comm, msg) => {
    widgets.set(comm.commId, { comm, open: received(msg), metadata: msg.metadata as Record<string, unknown>, inbox: new CommInbox(comm) });
  });
  const id = await run(`
import { WidgetModel } from "fatezero/widgets";
const w = new WidgetModel({
  _model_name: "ProbeModel", _model_module: "fatezero-test", _model_module_version: "0.1.0",
  value: 1, pixels: new Uint8Array([1, 2, 3]), nested: { list: [0, new Uint8Array([9, 8])] },
});
w.onCustom((content, buffers) => {
  const c = content as { ping?: number };
  if (c.ping !== undefined) w.send({ pong: c.ping, sizes: buffers.map((b) => b.byteLength) }, [new Uint8Array(buffers[0].buffer, buffers[0].byteOffset, buffers[0].byteLength).reverse()]);
});
console.log(w.modelId);`);
  const { open, metadata } = widget(id);
  assert.equal(metadata.version, "2.1.0");
  const state = open.data.state as Record<string, unknown>;
  assert.equal(state._model_name, "ProbeModel");
  assert.equal(state._model_module, "fatezero-test");
  assert.equal(state._view_module, "@jupyter-widgets/base");
  assert.equal(state.value, 1);
  assert.deepEqual(state.nested, { list: [0, null] });
  assert.equal("pixels" in state, false);
  assert.deepEqual(open.data.buffer_paths, [["pixels"], ["nested", "list", 1]]);
  assert.deepEqual(
    open.buffers.map((b) => [...b]),
    [
      [1, 2, 3],
      [9, 8],
    ],
  );
});

function probe() {
  assert.equal(widgets.size, 1);
  return [...widgets.values()][0];
}

test("an update with a binary buffer is applied in the kernel and echoed back (echo_update)", async () => {
  const { comm, inbox } = probe();
  const future = comm.send(
    { method: "update", state: { value: 5, nested: { list: [0, null] } }, buffer_paths: [["nested", "list", 1]] },
    {},
    [new Uint8Array([4, 5, 6])],
  );
  const echo = await inbox.next(
    (m) => m.data.method === "echo_update" && m.parentMsgId === future.msg.header.msg_id,
    "echo_update of our update",
  );
  assert.deepEqual(echo.data.state, { value: 5, nested: { list: [0, null] } });
  assert.deepEqual(echo.data.buffer_paths, [["nested", "list", 1]]);
  assert.deepEqual(
    echo.buffers.map((b) => [...b]),
    [[4, 5, 6]],
  );
  const applied = await run(`const l = w.get("nested") as { list: [number, DataView] };
console.log([w.get("value"), l.list[1] instanceof DataView, Array.from(new Uint8Array(l.list[1].buffer, l.list[1].byteOffset, l.list[1].byteLength))].join("|"));`);
  assert.equal(applied, "5|true|4,5,6");
});

test("request_state is answered with an update carrying the full state and its buffers", async () => {
  const { comm, inbox } = probe();
  const future = comm.send({ method: "request_state" }, {});
  const reply = await inbox.next(
    (m) => m.data.method === "update" && m.parentMsgId === future.msg.header.msg_id,
    "update answering request_state",
  );
  const state = reply.data.state as Record<string, unknown>;
  assert.equal(state.value, 5);
  assert.equal(state._model_name, "ProbeModel");
  assert.deepEqual(reply.data.buffer_paths, [["pixels"], ["nested", "list", 1]]);
  assert.deepEqual(
    reply.buffers.map((b) => [...b]),
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
  );
});

test("custom messages with buffers travel both ways", async () => {
  const { comm, inbox } = probe();
  comm.send({ method: "custom", content: { ping: 7 } }, {}, [new Uint8Array([1, 2, 3, 250])]);
  const reply = await inbox.nextMethod("custom");
  assert.deepEqual(reply.data.content, { pong: 7, sizes: [4] });
  assert.deepEqual(
    reply.buffers.map((b) => [...b]),
    [[250, 3, 2, 1]],
  );
});

test("jupyter.widget.control request_states is answered with update_states for every live model", async () => {
  const control = kernel.createComm("jupyter.widget.control");
  const inbox = new CommInbox(control);
  control.open({}, { version: "1.0.0" });
  control.send({ method: "request_states" }, {});
  const reply = await inbox.nextMethod("update_states");
  const { comm } = probe();
  const states = reply.data.states as Record<
    string,
    { model_name: string; model_module: string; model_module_version: string; state: Record<string, unknown> }
  >;
  assert.deepEqual(Object.keys(states), [comm.commId]);
  assert.equal(states[comm.commId].model_name, "ProbeModel");
  assert.equal(states[comm.commId].model_module_version, "0.1.0");
  assert.equal(states[comm.commId].state.value, 5);
  assert.deepEqual(reply.data.buffer_paths, [
    [comm.commId, "state", "pixels"],
    [comm.commId, "state", "nested", "list", 1],
  ]);
  assert.deepEqual(
    reply.buffers.map((b) => [...b]),
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
  );
  control.close();
});

test("comm messages are served while a cell awaits the widget", async () => {
  const { comm, inbox } = probe();
  const cell = execute(
    kernel,
    `
w.send({ waiting: true });
const released = await new Promise<number>((resolve) => w.onCustom((c) => { const r = (c as { release?: number }).release; if (r !== undefined) resolve(r); }));
w.set("value", released);
console.log(released * 2);`,
    20_000,
  );
  await inbox.next(
    (m) => m.data.method === "custom" && (m.data.content as { waiting?: boolean }).waiting === true,
    "the running cell's custom message",
  );
  const future = comm.send({ method: "request_state" }, {});
  const state = await inbox.next(
    (m) => m.data.method === "update" && m.parentMsgId === future.msg.header.msg_id,
    "request_state served during the cell",
  );
  assert.equal((state.data.state as { value: number }).value, 5);
  comm.send({ method: "custom", content: { release: 21 } }, {});
  assert.equal(stdout(await cell), "42");
  const update = await inbox.next(
    (m) => m.data.method === "update" && (m.data.state as { value?: number }).value === 21,
    "the update the cell sent",
  );
  assert.deepEqual(update.data.buffer_paths, []);
});

test("a model shows as a widget view (2.1) as a cell's value and with display(); close() closes its comm", async () => {
  const { comm, inbox } = probe();
  const view = { version_major: 2, version_minor: 1, model_id: comm.commId };
  const shown = await execute(kernel, "w.display();\nw", 20_000);
  assert.equal(shown.status, "ok", shown.error?.evalue);
  assert.equal(shown.bundles.length, 2);
  for (const bundle of shown.bundles) {
    assert.deepEqual(bundle["application/vnd.jupyter.widget-view+json"], view);
    assert.match(String(bundle["text/plain"]), /ProbeModel/);
  }
  await run("w.close()");
  await withTimeout(inbox.closed, 10_000, "comm_close from the kernel");
});
