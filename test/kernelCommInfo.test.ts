// comm_info_reply lists every open comm by id over real ZeroMQ, whatever the id: comm ids are chosen by
// frontends and cells, so one named like an Object.prototype member is still an ordinary key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ZmqKernel } from "./support/zmqKernel";

test("N11: comm_info_reply lists comms whose ids are __proto__ and constructor", async () => {
  const kernel = await ZmqKernel.start();
  try {
    const opened = await kernel.execute(
      'import { currentCommManager } from "fatezero/kernel";\n' +
        'for (const id of ["__proto__", "constructor", "plain"]) currentCommManager().open("fz.probe", {}, {}, [], id);',
    );
    assert.equal(opened.status, "ok", JSON.stringify(opened));
    const reply = await kernel.request("shell", "comm_info_request", { target_name: "fz.probe" }, 30_000);
    const comms = reply.comms as Record<string, { target_name: string }>;
    assert.deepEqual(Object.keys(comms).sort(), ["__proto__", "constructor", "plain"]);
    for (const id of Object.keys(comms)) assert.deepEqual(Object.getOwnPropertyDescriptor(comms, id)?.value, { target_name: "fz.probe" });
  } finally {
    await kernel.stop();
  }
});
