// The kernel as Jupyter sees it: `fatezero kernel install --prefix` into a temporary Jupyter, then
// the pinned jupyter_kernel_test suite (test/python/test_kernel_conformance.py, jupyter_client 8 from .venv)
// against it over real ZeroMQ.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { pythonMissing, PYTHON, ROOT, run, temporaryJupyter } from "./support/temporaryJupyter";

test(
  "jupyter_kernel_test: the kernelspec installed with --prefix passes the kernel conformance suite (jupyter_client 8)",
  { skip: pythonMissing(["jupyter_kernel_test", "jupyter_client"]) },
  async () => {
    const { env, notebooks, prefix } = temporaryJupyter("kernel");
    const spec = JSON.parse(fs.readFileSync(path.join(prefix, "share/jupyter/kernels/fatezero/kernel.json"), "utf8"));
    assert.deepEqual(spec.argv, [process.execPath, path.join(ROOT, "dist/cli/kernelMain.js"), "{connection_file}"]);
    const r = await run(PYTHON, ["-m", "unittest", "-v", "test_kernel_conformance"], notebooks, env, 120_000);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Ran \d+ tests/);
  },
);
