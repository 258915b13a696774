// The GPU check's package (bench/device-check.sh): packed here as for a lent GPU machine (this machine's Node
// binary instead of a download, no .debs, fast compression), unpacked into a bare folder, and run there with
// the packed Node and onnxruntime-node only (a temporary folder outside the project, so nothing resolves to the
// project's node_modules): the world model's edit must come out as a JSON line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

const PACK = ".device-test";

test("device-check.sh packs Node, onnxruntime-node and the bundled check, and the unpacked package runs the world edit", () => {
  const env = {
    ...process.env,
    DEVICE_CHECK_PACK: PACK,
    DEVICE_CHECK_NODE: process.execPath,
    DEVICE_CHECK_NO_DEBS: "1",
    DEVICE_CHECK_XZ: "0",
  };
  try {
    const prepare = spawnSync("bash", ["bench/device-check.sh", "prepare"], { encoding: "utf8", env });
    assert.equal(prepare.status, 0, prepare.stderr);
    for (const f of ["node.xz", "ort.tar.xz", "deviceCheck.js"]) assert.ok(fs.statSync(path.join(PACK, f)).size > 0, f);
    const unpacked = spawnSync("bash", ["bench/device-check.sh", "unpack-test"], { encoding: "utf8", env });
    assert.equal(unpacked.status, 0, unpacked.stderr);
    assert.match(unpacked.stdout, new RegExp(`^${process.version.replace(/\./g, "\\.")}$`, "m"));
    const line = unpacked.stdout.split("\n").find((l) => l.startsWith("{"));
    assert.ok(line, unpacked.stdout);
    const result = JSON.parse(line) as { check: string; device: string; seconds: number };
    assert.equal(result.check, "world-edit");
    assert.equal(result.device, "cpu");
    assert.ok(result.seconds > 0);
  } finally {
    fs.rmSync(PACK, { recursive: true, force: true });
  }
});
