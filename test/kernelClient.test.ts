// The kernel driven by real Jupyter clients in a temporary Jupyter (kernelspec installed with --prefix):
// jupyter_client 8 (the pinned .venv) running test/python/test_kernel_client.py (cells, interrupts, comms with binary
// buffers both ways, heartbeat, bad signatures, restart), `jupyter nbconvert --execute` on a notebook, and
// JupyterLab's own client (@jupyterlab/services) through a jupyter_server 2's websockets.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { installKernelSpec } from "../kernel/install";
import { JUPYTER, pythonMissing, PYTHON, run, temporaryJupyter } from "./support/temporaryJupyter";
import { execute, withJupyterServer } from "./support/jupyterServer";

const MISSING = pythonMissing(["jupyter_client", "nbclient", "nbconvert", "jupyter_server"]);

test("jupyter_client: cells, interrupts, comms with binary buffers, heartbeat, bad signatures, restart", { skip: MISSING }, async () => {
  const { env, notebooks } = temporaryJupyter("kernel-client");
  const r = await run(PYTHON, ["-m", "unittest", "-v", "test_kernel_client"], notebooks, env, 150_000);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /Ran \d+ tests/);
});

test("jupyter nbconvert --execute keeps execution counts and results", { skip: MISSING }, async () => {
  const { env, notebooks } = temporaryJupyter("kernel-client");
  const code = (source: string) => ({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source });
  const notebook = {
    cells: [
      code('import { loadModel } from "fatezero";\nconst answer: number = 6 * 7;\nanswer'),
      { cell_type: "markdown", metadata: {}, source: "Markdown cells take no execution count." },
      code('console.log("loadModel is a", typeof loadModel);'),
      code('import { displayHtml } from "fatezero/kernel";\ndisplayHtml("<i>shown</i>");'),
      code("answer + 1"),
      code(
        'import { displayVideo } from "fatezero/kernel";\nimport { encodeMp4, makeSampleClip } from "fatezero";\ndisplayVideo(await encodeMp4(makeSampleClip(2, 64)));',
      ),
    ],
    metadata: { kernelspec: { name: "fatezero", display_name: "FateZero (TypeScript)", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 4,
  };
  fs.writeFileSync(path.join(notebooks, "cells.ipynb"), JSON.stringify(notebook));
  const r = await run(
    JUPYTER,
    ["nbconvert", "--to", "notebook", "--execute", "cells.ipynb", "--output", "executed.ipynb"],
    notebooks,
    env,
    90_000,
  );
  assert.equal(r.code, 0, r.output);
  const executed = JSON.parse(fs.readFileSync(path.join(notebooks, "executed.ipynb"), "utf8"));
  const cells = executed.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
  assert.deepEqual(
    cells.map((c: { execution_count: number }) => c.execution_count),
    [1, 2, 3, 4, 5],
  );
  // nbformat stores text as arrays of lines.
  const joined = (value: unknown) => (Array.isArray(value) ? value.join("") : value);
  const normalise = (output: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(output).map(([key, value]) => [
        key,
        key === "text"
          ? joined(value)
          : key === "data"
            ? Object.fromEntries(Object.entries(value as object).map(([mime, v]) => [mime, joined(v)]))
            : value,
      ]),
    );
  const outputs = cells.map((c: { outputs: Record<string, unknown>[] }) => c.outputs.map(normalise));
  assert.deepEqual(outputs[0], [{ output_type: "execute_result", execution_count: 1, data: { "text/plain": "42" }, metadata: {} }]);
  assert.deepEqual(outputs[1], [{ output_type: "stream", name: "stdout", text: "loadModel is a function\n" }]);
  assert.equal(outputs[2][0].output_type, "display_data");
  assert.equal(outputs[2][0].data["text/html"], "<i>shown</i>");
  assert.deepEqual(outputs[3], [{ output_type: "execute_result", execution_count: 4, data: { "text/plain": "43" }, metadata: {} }]);
  assert.equal(outputs[4][0].output_type, "display_data");
  assert.match(
    outputs[4][0].data["text/html"],
    /^<video controls loop autoplay muted src="data:video\/mp4;base64,[A-Za-z0-9+/=]{100,}"><\/video>$/,
  );
  assert.equal(executed.metadata.language_info.name, "typescript");
  assert.equal(executed.metadata.language_info.version, "5.0.4");
});

/** The bytes of a buffer as @jupyterlab/services delivers it (a DataView, or an ArrayBuffer). */
function bytesOf(buffer: ArrayBuffer | ArrayBufferView | undefined): Uint8Array {
  if (buffer === undefined) return new Uint8Array();
  return buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

test("@jupyterlab/services through jupyter server: cells, comms with binary buffers both ways, restart", { skip: MISSING }, async () => {
  await withJupyterServer({ prepare: (dirs) => void installKernelSpec({ prefix: dirs.prefix }) }, async (server) => {
    const kernel = await server.startKernel("fatezero");
    assert.equal((await kernel.info).language_info.name, "typescript");
    const setup = await execute(
      kernel,
      'import { currentCommManager } from "fatezero/kernel";\n' +
        'currentCommManager().registerTarget("fz.double", (comm) =>\n' +
        "  comm.onMsg((data, [bytes]) => comm.send({ n: data.n }, {}, [new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).map((b) => b * 2)])));\n" +
        "6 * 7",
    );
    assert.deepEqual([setup.status, setup.bundles], ["ok", [{ "text/plain": "42" }]]);

    const comm = kernel.createComm("fz.double");
    const echoed = new Promise<{ data: unknown; bytes: number[] }>((resolve) => {
      comm.onMsg = (msg) => resolve({ data: msg.content.data, bytes: Array.from(bytesOf(msg.buffers?.[0])) });
    });
    await comm.open({}).done;
    comm.send({ n: 5 }, {}, [new Uint8Array([1, 2, 100])]);
    assert.deepEqual(await echoed, { data: { n: 5 }, bytes: [2, 4, 200] });

    const opened = new Promise<{ data: unknown; floats: number[] }>((resolve) =>
      kernel.registerCommTarget("fz.frames", (_comm, msg) =>
        resolve({ data: msg.content.data, floats: Array.from(new Float32Array(bytesOf(msg.buffers?.[0]).slice().buffer)) }),
      ),
    );
    await execute(kernel, 'currentCommManager().open("fz.frames", { frame: 0 }, {}, [new Float32Array([0.5, -2])]);');
    assert.deepEqual(await opened, { data: { frame: 0 }, floats: [0.5, -2] });

    await kernel.restart();
    const fresh = await execute(kernel, "typeof currentCommManager");
    assert.equal(fresh.error?.ename, "CompileError", "the restarted kernel starts with no variables");
  });
});
