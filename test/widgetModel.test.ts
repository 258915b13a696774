// The kernel-side widget protocol 2.1 against an in-process comm manager: the exact messages a frontend
// (@jupyter-widgets/base 6) receives, and how the model reacts to the ones it sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { CONTROL_TARGET, installWidgets, WIDGET_TARGET, WIDGET_VIEW_MIME, WidgetModel } from "../widgets/comm";
import { MIME_BUNDLE } from "../kernel/kernelContext";
import { FakeCommManager } from "./support/fakeComms";

type Slider = { value: number; pixels: Uint8Array | DataView; meta: { frames: (Uint8Array | DataView | null)[] } };

function slider(comms: FakeCommManager, options: { echo?: boolean; noEcho?: string[] } = {}) {
  const pixels = new Uint8Array([1, 2, 3, 4]);
  const model = new WidgetModel<Slider>(
    {
      _model_name: "SliderModel",
      _model_module: "fatezero-widgets",
      _model_module_version: "0.1.0",
      _view_name: "SliderView",
      value: 3,
      pixels,
      meta: { frames: [null, new Uint8Array([7])] },
    },
    { comms, ...options },
  );
  return { model, comm: comms.comm(model.modelId), pixels };
}

test("comm_open carries the state, identity keys, buffer paths and protocol version 2.1.0", () => {
  const comms = new FakeCommManager();
  const { model, pixels } = slider(comms);
  const open = comms.opened[0];
  assert.equal(open.comm.targetName, WIDGET_TARGET);
  assert.deepEqual(open.metadata, { version: "2.1.0" });
  assert.deepEqual(open.data, {
    state: {
      _model_name: "SliderModel",
      _model_module: "fatezero-widgets",
      _model_module_version: "0.1.0",
      _view_name: "SliderView",
      _view_module: "@jupyter-widgets/base",
      _view_module_version: "2.0.0",
      value: 3,
      meta: { frames: [null, null] },
    },
    buffer_paths: [["pixels"], ["meta", "frames", 1]],
  });
  assert.equal(open.buffers[0], pixels);
  assert.equal(model.modelId, open.comm.commId);
});

test("set sends an update with only the changed keys; binary values as buffers; unchanged values send nothing", () => {
  const comms = new FakeCommManager();
  const { model, comm } = slider(comms);
  const seen: [number, number, string][] = [];
  model.onChange("value", (v, old, source) => seen.push([v, old, source]));
  model.set("value", 3);
  assert.equal(comm.sent.length, 0);
  model.update({ value: 4, pixels: new Uint8Array([1, 2, 3, 4]) });
  assert.deepEqual(
    comm.sent.map((m) => m.data),
    [{ method: "update", state: { value: 4 }, buffer_paths: [] }],
  );
  const frame = new Uint8Array([5, 6]);
  model.set("meta", { frames: [frame] });
  assert.deepEqual(comm.sent[1].data, { method: "update", state: { meta: { frames: [null] } }, buffer_paths: [["meta", "frames", 0]] });
  assert.equal(comm.sent[1].buffers[0], frame);
  assert.deepEqual(seen, [[4, 3, "kernel"]]);
});

test("a frontend update puts buffers back at their paths, echoes it, and calls listeners", () => {
  const comms = new FakeCommManager();
  const { model, comm } = slider(comms);
  const seen: unknown[] = [];
  model.onChange("meta", (v, _old, source) => seen.push([v, source]));
  const incoming = new DataView(new Uint8Array([42]).buffer);
  comm.fromFrontend({ method: "update", state: { value: 9, meta: { frames: [null] } }, buffer_paths: [["meta", "frames", 0]] }, [incoming]);
  assert.equal(model.get("value"), 9);
  assert.equal(model.get("meta").frames[0], incoming);
  assert.deepEqual(seen, [[{ frames: [incoming] }, "frontend"]]);
  const echo = comm.sentWith("echo_update");
  assert.equal(echo.length, 1);
  assert.deepEqual(echo[0].data, {
    method: "echo_update",
    state: { value: 9, meta: { frames: [null] } },
    buffer_paths: [["meta", "frames", 0]],
  });
  assert.equal(echo[0].buffers[0], incoming);
  assert.equal(comm.sentWith("update").length, 0, "a listener writing the same value back sends nothing");
});

test("a listener that adjusts a frontend value sends its own update after the echo", () => {
  const comms = new FakeCommManager();
  const { model, comm } = slider(comms);
  model.onChange("value", (v) => model.set("value", Math.min(v, 10)));
  comm.fromFrontend({ method: "update", state: { value: 50 }, buffer_paths: [] });
  assert.deepEqual(
    comm.sent.map((m) => [m.data.method, (m.data.state as { value: number }).value]),
    [
      ["echo_update", 50],
      ["update", 10],
    ],
  );
  assert.equal(model.get("value"), 10);
});

test("echo can be switched off per model and per key", () => {
  const comms = new FakeCommManager();
  const off = slider(comms, { echo: false });
  off.comm.fromFrontend({ method: "update", state: { value: 1 }, buffer_paths: [] });
  assert.equal(off.comm.sent.length, 0);
  assert.equal(off.model.get("value"), 1);
  const some = slider(comms, { noEcho: ["pixels"] });
  some.comm.fromFrontend({ method: "update", state: { value: 2, pixels: null }, buffer_paths: [["pixels"]] }, [
    new DataView(new ArrayBuffer(1)),
  ]);
  assert.deepEqual(some.comm.sentWith("echo_update")[0].data, { method: "echo_update", state: { value: 2 }, buffer_paths: [] });
});

test("malformed frontend updates are refused without changing the state", () => {
  const comms = new FakeCommManager();
  const { model, comm } = slider(comms);
  const errors: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    comm.fromFrontend({ method: "update", state: { value: 5 }, buffer_paths: [["missing", "x"]] }, [new DataView(new ArrayBuffer(1))]);
    comm.fromFrontend({ method: "update", state: [1] });
    comm.fromFrontend({ method: "bogus" });
  } finally {
    console.error = original;
  }
  assert.equal(model.get("value"), 3);
  assert.equal(comm.sent.length, 0);
  assert.equal(errors.length, 3);
});

test("a model that names its frontend keys takes valid values, refuses the rest and sends its own value back", () => {
  const comms = new FakeCommManager();
  const model = new WidgetModel<{ value: number; label: string }>(
    { _model_name: "SliderModel", value: 3, label: "kernel only" },
    { comms, frontendKeys: () => ({ value: z.number().int().min(0).max(10) }) },
  );
  const comm = comms.comm(model.modelId);
  const seen: unknown[] = [];
  model.onChange("value", (v) => seen.push(v));
  const errors: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    comm.fromFrontend({ method: "update", state: { value: 50, label: "mine" }, buffer_paths: [] });
    comm.fromFrontend({ method: "update", state: { value: 7 }, buffer_paths: [] });
  } finally {
    console.error = original;
  }
  assert.deepEqual([model.get("value"), model.get("label"), seen], [7, "kernel only", [7]]);
  assert.deepEqual(
    comm.sent.map((m) => [m.data.method, m.data.state]),
    [
      ["update", { value: 3, label: "kernel only" }],
      ["echo_update", { value: 7 }],
    ],
  );
  assert.deepEqual(
    errors.map((e) => String(e[0])),
    [
      `widget ${model.modelId}: refused value = 50 from the frontend: Too big: expected number to be <=10`,
      `widget ${model.modelId}: refused label = "mine" from the frontend: only the kernel sets it`,
    ],
  );
});

test("request_state answers with an update of the full state", () => {
  const comms = new FakeCommManager();
  const { comm, pixels } = slider(comms);
  comm.fromFrontend({ method: "request_state" });
  const [reply] = comm.sent;
  assert.equal(reply.data.method, "update");
  assert.deepEqual(reply.data.buffer_paths, [["pixels"], ["meta", "frames", 1]]);
  assert.deepEqual(Object.keys(reply.data.state as object).sort(), [
    "_model_module",
    "_model_module_version",
    "_model_name",
    "_view_module",
    "_view_module_version",
    "_view_name",
    "meta",
    "value",
  ]);
  assert.equal(reply.buffers[0], pixels);
});

test("custom messages travel both ways with buffers", () => {
  const comms = new FakeCommManager();
  const { model, comm } = slider(comms);
  const got: unknown[] = [];
  model.onCustom((content, buffers) => got.push([content, buffers.map((b) => b.getUint8(0))]));
  comm.fromFrontend({ method: "custom", content: { event: "click", n: 1 } }, [new DataView(new Uint8Array([77]).buffer)]);
  assert.deepEqual(got, [[{ event: "click", n: 1 }, [77]]]);
  const out = new Float32Array([1.5]);
  model.send({ progress: 0.5 }, [out]);
  assert.deepEqual(comm.sent[0].data, { method: "custom", content: { progress: 0.5 } });
  assert.equal(comm.sent[0].buffers[0], out);
});

test("jupyter.widget.control request_states lists every live model with buffer paths prefixed by its id", () => {
  const comms = new FakeCommManager();
  installWidgets(comms);
  const a = slider(comms);
  const b = new WidgetModel({ label: "plain" }, { comms });
  const control = comms.openFromFrontend(CONTROL_TARGET, {});
  control.fromFrontend({ method: "request_states" });
  const [reply] = control.sent;
  assert.equal(reply.data.method, "update_states");
  const states = reply.data.states as Record<
    string,
    { model_name: string; model_module: string; model_module_version: string; state: Record<string, unknown> }
  >;
  assert.deepEqual(Object.keys(states).sort(), [a.model.modelId, b.modelId].sort());
  assert.equal(states[a.model.modelId].model_name, "SliderModel");
  assert.equal(states[a.model.modelId].model_module, "fatezero-widgets");
  assert.equal(states[b.modelId].model_name, "WidgetModel");
  assert.equal(states[b.modelId].state.label, "plain");
  assert.deepEqual(reply.data.buffer_paths, [
    [a.model.modelId, "state", "pixels"],
    [a.model.modelId, "state", "meta", "frames", 1],
  ]);
  assert.equal(reply.buffers[0], a.pixels);
  a.model.close();
  control.fromFrontend({ method: "request_states" });
  assert.deepEqual(Object.keys(control.sent[1].data.states as object), [b.modelId]);
});

test("close from either side ends the model; closed models keep local state but cannot send", () => {
  const comms = new FakeCommManager();
  const k = slider(comms);
  let closes = 0;
  k.model.onClose(() => closes++);
  k.model.close();
  k.model.close();
  assert.ok(k.comm.closedByKernel && k.model.closed);
  assert.equal(closes, 1);
  k.model.set("value", 8);
  assert.equal(k.model.get("value"), 8);
  assert.throws(() => k.model.send({}), /closed/);
  const f = slider(comms);
  f.comm.closeFromFrontend();
  assert.ok(f.model.closed && !f.comm.closedByKernel);
  assert.equal(WidgetModel.byId(f.model.modelId, comms), undefined);
});

test("displayData is a widget-view bundle (protocol 2.1) with a text/plain fallback, also the model's rendering", () => {
  const comms = new FakeCommManager();
  const { model } = slider(comms);
  const bundle = {
    [WIDGET_VIEW_MIME]: { version_major: 2, version_minor: 1, model_id: model.modelId },
    "text/plain": `SliderModel(model_id='${model.modelId}')`,
  };
  assert.deepEqual(model.displayData(), bundle);
  assert.deepEqual(model[MIME_BUNDLE](), bundle);
});

test("a model the frontend opens on jupyter.widget is adopted with its buffers and found by id", () => {
  const comms = new FakeCommManager();
  installWidgets(comms);
  const comm = comms.openFromFrontend(WIDGET_TARGET, { state: { _model_name: "FromFrontend", blob: null }, buffer_paths: [["blob"]] }, [
    new DataView(new Uint8Array([3]).buffer),
  ]);
  const model = WidgetModel.byId(comm.commId, comms);
  assert.ok(model);
  assert.equal(model.get("_model_name"), "FromFrontend");
  assert.equal((model.get("blob") as DataView).getUint8(0), 3);
  comm.fromFrontend({ method: "request_state" });
  assert.deepEqual(comm.sent[0].data.buffer_paths, [["blob"]]);
});

test("models without a CommManager fail clearly outside a kernel", () => {
  assert.throws(() => new WidgetModel({}), /no CommManager/);
});
