"""The fatezero kernel driven by Debian's jupyter_client over real ZeroMQ: cells, execution counts, tracebacks,
the "fatezero" package in cells, displays, stdin, completion and inspection, interrupts (SIGINT and
interrupt_request), comms with binary buffers in both directions, heartbeat, bad signatures, restart."""
import base64
import os
import struct
import tempfile
import time
import unittest
import uuid

import zmq
from jupyter_client.session import Session

from kernel_session import (
    TIMEOUT,
    deadline_after,
    execute,
    execute_ok,
    iopub_until_idle,
    reply_for,
    start_kernel,
    stop_kernel,
    wait_for_iopub,
)


class KernelTestCase(unittest.TestCase):
    """One kernel per test class; its stderr (the kernel log) goes to a file the tests can read."""

    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.NamedTemporaryFile(mode="w+", suffix=".log", delete=False)
        cls.km, cls.kc = start_kernel(stderr=cls.log)

    @classmethod
    def tearDownClass(cls):
        stop_kernel(cls.km, cls.kc)
        cls.log.close()
        os.unlink(cls.log.name)

    def kernel_log(self):
        with open(self.log.name) as f:
            return f.read()

    def wait_for_log(self, text, timeout=TIMEOUT):
        """The kernel log once it contains `text` (the kernel logs asynchronously)."""
        left = deadline_after(timeout)
        while text not in self.kernel_log():
            if left() == 0:
                self.fail(f"the kernel log never showed {text!r}:\n{self.kernel_log()}")
            time.sleep(0.05)
        return self.kernel_log()


class CellTests(KernelTestCase):
    def test_every_thrown_value_gets_an_error_reply(self):
        cells = [
            "throw Object.assign(new Error('odd stack'), { stack: 42 })",
            "throw { get message() { throw new Error('no message for you'); } }",
            "throw new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } })",
            "const e = new Error('x'); Object.defineProperty(e, 'message', { get() { throw new Error('getter'); } }); throw e;",
        ]
        for code in cells:
            done = execute(self.kc, code)
            self.assertEqual(done.reply["status"], "error", code)
            self.assertTrue(done.reply["traceback"], code)
        self.assertEqual(execute_ok(self, self.kc, "1 + 1").result(), "2")

    def test_process_exit_in_a_cell_fails_the_cell_and_the_kernel_stays(self):
        done = execute(self.kc, "process.exit(3)")
        self.assertEqual(done.reply["status"], "error")
        self.assertIn("process.exit(3) was called in a cell", done.reply["evalue"])
        execute_ok(self, self.kc, "setTimeout(() => process.exit(4), 10);")
        self.wait_for_log("process.exit(4) was called in a cell")
        self.assertEqual(execute_ok(self, self.kc, "2 + 2").result(), "4")

    def test_execution_counts_follow_store_history_and_silent(self):
        first = execute_ok(self, self.kc, "1 + 1")
        count = first.reply["execution_count"]
        self.assertEqual(first.of_type("execute_input")[0]["execution_count"], count)
        self.assertEqual(first.of_type("execute_result")[0]["execution_count"], count)
        silent = execute_ok(self, self.kc, "2 + 2", silent=True)
        self.assertEqual(silent.outputs, [])
        self.assertEqual(silent.reply["execution_count"], count)
        unstored = execute_ok(self, self.kc, "3 + 3", store_history=False)
        self.assertEqual(unstored.reply["execution_count"], count)
        self.assertEqual(unstored.result(), "6")
        self.assertEqual(execute_ok(self, self.kc, "4 + 4").reply["execution_count"], count + 1)

    def test_variables_and_types_carry_over(self):
        execute_ok(self, self.kc, "interface Point { x: number; y: number }\nconst p: Point = { x: 1, y: 2 };")
        self.assertEqual(execute_ok(self, self.kc, "p.x + p.y").result(), "3")
        wrong = execute(self.kc, 'const q: Point = { x: "one", y: 2 };')
        self.assertEqual(wrong.reply["status"], "error")
        self.assertEqual(wrong.reply["ename"], "CompileError")
        self.assertIn("line 1", wrong.reply["traceback"][0])

    def test_runtime_error_traceback_points_at_the_cell_line(self):
        definition = execute_ok(
            self,
            self.kc,
            "type Frame = { index: number };\n"
            "// a comment line, and a template literal over two lines\n"
            "const clip = `the\n"
            "clip`;\n"
            "function check(frame: Frame): void {\n"
            "  if (frame.index > 2) {\n"
            '    throw new RangeError(`frame ${frame.index} is not in ${clip}`);\n'
            "  }\n"
            "}\n",
        )
        label = f"In[{definition.reply['execution_count']}]"
        failed = execute(self.kc, "const frames: Frame[] = [{ index: 1 }, { index: 5 }];\n\nframes.forEach(check);")
        self.assertEqual(failed.reply["status"], "error")
        self.assertEqual((failed.reply["ename"], failed.reply["evalue"]), ("RangeError", "frame 5 is not in the\nclip"))
        traceback = "\n".join(failed.reply["traceback"])
        self.assertIn(f"at check ({label}, line 7)", traceback)
        self.assertIn(f"In[{failed.reply['execution_count']}], line 3", traceback)
        self.assertNotIn("fatezero-cell-", traceback)
        self.assertNotIn("dist/kernel", traceback)
        self.assertEqual(failed.of_type("error")[0]["traceback"], failed.reply["traceback"])

    def test_fatezero_package_is_importable_and_typed(self):
        done = execute_ok(
            self,
            self.kc,
            'import { loadModel, readVideo, invertVideo, editVideo, decodeLatents } from "fatezero";\n'
            "[loadModel, readVideo, invertVideo, editVideo, decodeLatents].map((f) => typeof f).join()",
        )
        self.assertEqual(done.result(), "'function,function,function,function,function'")
        misuse = execute(self.kc, "const n: number = loadModel;")
        self.assertEqual(misuse.reply["ename"], "CompileError")
        self.assertIn("Promise<FateZeroModel>", misuse.reply["evalue"])

    def test_pipeline_runs_from_a_cell_with_progress_and_an_image(self):
        done = execute_ok(
            self,
            self.kc,
            'import { loadModel, makeSampleClip, invertVideo, editVideo, decodeLatents, writeFrames, DEFAULT_P2P } from "fatezero";\n'
            'import { displayImage, interruptSignal, progress } from "fatezero/kernel";\n'
            'import * as fs from "node:fs";\n'
            'const model = await loadModel("tiny");\n'
            "const clip = makeSampleClip(2, 64);\n"
            'const source = "a jeep on a road";\n'
            "const inversion = await invertVideo(model, { frames: clip.frames, frameCount: clip.count, height: clip.height, width: clip.width, prompt: source, steps: 2 },\n"
            '  { onProgress: progress("inverting"), signal: interruptSignal() });\n'
            'const edit = await editVideo(model, inversion, { prompt: "a car on a road", sourcePrompt: source, p2p: DEFAULT_P2P }, { onProgress: progress("editing") });\n'
            "const frames = await decodeLatents(model, edit.latents);\n"
            'const [first] = await writeFrames("edited-frames", { ...clip, frames, source: "edit" });\n'
            "displayImage(fs.readFileSync(first));",
            timeout=240,
        )
        progress_labels = [c["data"]["text/plain"].split(" ")[0] for c in done.of_type("display_data") if "text/html" in c["data"]]
        self.assertEqual(progress_labels, ["inverting", "editing"])
        self.assertTrue(any("2/2" in c["data"]["text/plain"] for c in done.of_type("update_display_data")))
        image = [c for c in done.of_type("display_data") if "image/png" in c["data"]]
        self.assertEqual(len(image), 1)
        self.assertEqual(base64.b64decode(image[0]["data"]["image/png"])[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(image[0]["data"]["text/plain"], "<PNG image 64×64>")

    def test_display_update_and_progress(self):
        done = execute_ok(
            self,
            self.kc,
            'import { display, progress } from "fatezero/kernel";\n'
            'const h = display({ "text/plain": "step 0" });\n'
            'h.update({ "text/plain": "step 1" });\n'
            'const report = progress("denoising");\n'
            "for (let i = 0; i <= 3; i++) report(i, 3);",
        )
        shown = done.of_type("display_data")
        updates = done.of_type("update_display_data")
        self.assertEqual(shown[0]["data"], {"text/plain": "step 0"})
        self.assertEqual(updates[0]["data"], {"text/plain": "step 1"})
        self.assertEqual(updates[0]["transient"]["display_id"], shown[0]["transient"]["display_id"])
        self.assertIn("denoising", shown[1]["data"]["text/plain"])
        self.assertIn("3/3", updates[-1]["data"]["text/plain"])
        self.assertEqual(updates[-1]["transient"]["display_id"], shown[1]["transient"]["display_id"])
        self.assertIsNone(done.result(), "display(...) on the last line shows nothing more")

    def test_input_over_stdin(self):
        msg_id = self.kc.execute('import { input } from "fatezero/kernel";\n(await input("name? ")).toUpperCase()', allow_stdin=True)
        request = self.kc.get_stdin_msg(timeout=TIMEOUT)
        self.assertEqual(request["msg_type"], "input_request")
        self.assertEqual(request["content"]["prompt"], "name? ")
        self.kc.input("ada")
        results = [m["content"]["data"]["text/plain"] for m in iopub_until_idle(self.kc, msg_id) if m["msg_type"] == "execute_result"]
        self.assertEqual(reply_for(self.kc.get_shell_msg, msg_id)["content"]["status"], "ok")
        self.assertEqual(results, ["'ADA'"])
        refused = execute(self.kc, 'await input("again? ")', allow_stdin=False)
        self.assertIn("allow_stdin", refused.reply["evalue"])

    def test_completion_and_inspection_see_earlier_cells(self):
        execute_ok(self, self.kc, "const attentionThreshold = 0.3;")
        msg_id = self.kc.complete("attentionThr", 12)
        reply = reply_for(self.kc.get_shell_msg, msg_id)["content"]
        self.assertEqual((reply["matches"], reply["cursor_start"], reply["cursor_end"]), (["attentionThreshold"], 0, 12))
        msg_id = self.kc.inspect("attentionThreshold", 5)
        reply = reply_for(self.kc.get_shell_msg, msg_id)["content"]
        self.assertTrue(reply["found"])
        self.assertIn("attentionThreshold: 0.3", reply["data"]["text/plain"])


class InterruptTests(KernelTestCase):
    """Each interrupt is sent once, when the cell is known to be in its loop or await: Node swaps SIGINT
    handlers for a few microseconds as a cell's synchronous part starts and ends (vm breakOnSigint), and a
    signal landing there would end the process, so the tests never fire one blindly."""

    def start_cell(self, code):
        msg_id = self.kc.execute(code)
        wait_for_iopub(self.kc, lambda m: m["msg_type"] == "execute_input" and m["parent_header"].get("msg_id") == msg_id)
        return msg_id

    def start_spinning(self):
        """Start a synchronous endless loop; returns once the cell is inside it (it creates a flag file first)."""
        flag = f"spinning-{uuid.uuid4().hex}"
        msg_id = self.start_cell(f'import * as fs from "node:fs";\nfs.writeFileSync("{flag}", "");\nwhile (true) {{}}')
        # A blocked main thread sends nothing, so the file is the only sign that the loop runs: poll for it.
        left = deadline_after(TIMEOUT)
        while not os.path.exists(flag):
            self.assertGreater(left(), 0, "the spinning cell did not start")
            time.sleep(0.01)
        os.unlink(flag)
        return msg_id

    def start_waiting(self):
        """Start a cell awaiting forever; returns once it awaits (its output is only sent when the thread is free)."""
        msg_id = self.start_cell('console.log("waiting");\nawait new Promise(() => {});')
        wait_for_iopub(self.kc, lambda m: m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id)
        return msg_id

    def finish(self, msg_id):
        reply = reply_for(self.kc.get_shell_msg, msg_id)
        iopub_until_idle(self.kc, msg_id)
        return reply["content"]

    def send_interrupt_request(self):
        msg = self.kc.session.msg("interrupt_request", {})
        self.kc.control_channel.send(msg)
        self.assertEqual(reply_for(self.kc.get_control_msg, msg["header"]["msg_id"])["content"]["status"], "ok")

    def test_sigint_ends_a_busy_synchronous_cell(self):
        execute_ok(self, self.kc, "let survivor = 7;")
        msg_id = self.start_spinning()
        self.km.interrupt_kernel()
        reply = self.finish(msg_id)
        self.assertEqual((reply["status"], reply["ename"]), ("error", "Interrupted"))
        self.assertEqual(reply["traceback"], ["Interrupted: the cell was interrupted (SIGINT)"])
        self.assertEqual(execute_ok(self, self.kc, "survivor * 6").result(), "42")

    def test_heartbeat_answers_while_a_cell_blocks(self):
        msg_id = self.start_spinning()
        ping = zmq.Context.instance().socket(zmq.REQ)
        ping.linger = 0
        ping.connect(f"tcp://{self.km.ip}:{self.km.hb_port}")
        ping.send(b"ping")
        self.assertTrue(ping.poll(TIMEOUT * 1000), "no heartbeat echo")
        self.assertEqual(ping.recv(), b"ping")
        ping.close()
        self.km.interrupt_kernel()
        self.assertEqual(self.finish(msg_id)["ename"], "Interrupted")

    def test_interrupt_request_ends_an_awaiting_cell(self):
        execute_ok(self, self.kc, 'import { interruptSignal } from "fatezero/kernel";\nconst signal = interruptSignal();')
        msg_id = self.start_waiting()
        self.send_interrupt_request()
        reply = self.finish(msg_id)
        self.assertEqual((reply["status"], reply["ename"]), ("error", "Interrupted"))
        self.assertEqual(execute_ok(self, self.kc, "signal.aborted").result(), "true")

    def test_sigint_ends_an_awaiting_cell(self):
        msg_id = self.start_waiting()
        self.km.interrupt_kernel()
        reply = self.finish(msg_id)
        self.assertEqual((reply["status"], reply["ename"]), ("error", "Interrupted"))
        self.assertEqual(execute_ok(self, self.kc, '"still here"').result(), "'still here'")


class CommTests(KernelTestCase):
    def send_comm(self, msg_type, content, buffers=None):
        msg = self.kc.session.msg(msg_type, content)
        if buffers:
            msg["buffers"] = buffers
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def comm_info(self, target=None):
        msg_id = self.kc.comm_info(target)
        return reply_for(self.kc.get_shell_msg, msg_id)["content"]["comms"]

    def test_frontend_opened_comm_echoes_binary_buffers(self):
        execute_ok(
            self,
            self.kc,
            'import { currentCommManager } from "fatezero/kernel";\n'
            "const closed: unknown[] = [];\n"
            'currentCommManager().registerTarget("fz.echo", (comm, data, buffers) => {\n'
            "  comm.onMsg((msg, bufs) => {\n"
            "    const bytes = new Uint8Array(bufs[0].buffer, bufs[0].byteOffset, bufs[0].byteLength);\n"
            "    const reversed = Uint8Array.from(bytes).reverse().map((b) => b + 1);\n"
            "    const scale = bufs[1].getFloat32(0, true) * 2;\n"
            "    comm.send({ echo: msg.text, opened: data.hello, openBuffers: buffers.length }, {}, [reversed, new Float32Array([scale])]);\n"
            "  });\n"
            "  comm.onClose((d) => closed.push(d));\n"
            "});",
        )
        comm_id = uuid.uuid4().hex
        self.send_comm("comm_open", {"comm_id": comm_id, "target_name": "fz.echo", "data": {"hello": "there"}}, [b"\x00"])
        self.assertEqual(self.comm_info("fz.echo"), {comm_id: {"target_name": "fz.echo"}})
        self.assertEqual(self.comm_info("other.target"), {})
        self.send_comm("comm_msg", {"comm_id": comm_id, "data": {"text": "ping"}}, [bytes([1, 2, 250]), struct.pack("<f", 1.25)])
        echo = wait_for_iopub(self.kc, lambda m: m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id)
        self.assertEqual(echo["content"]["data"], {"echo": "ping", "opened": "there", "openBuffers": 1})
        self.assertEqual(bytes(echo["buffers"][0]), bytes([251, 3, 2]))
        self.assertEqual(struct.unpack("<f", bytes(echo["buffers"][1]))[0], 2.5)
        self.send_comm("comm_close", {"comm_id": comm_id, "data": {"reason": "done"}})
        self.assertEqual(self.comm_info("fz.echo"), {})
        self.assertEqual(execute_ok(self, self.kc, "JSON.stringify(closed)").result(), "'[{\"reason\":\"done\"}]'")

    def test_kernel_opened_comm_sends_binary_buffers(self):
        others = []
        done = execute(
            self.kc,
            'import { currentCommManager } from "fatezero/kernel";\n'
            'const out = currentCommManager().open("fz.frames", { shape: [2] }, {}, [new Float32Array([1.5, -2])]);\n'
            "out.send({ step: 1 }, { kind: \"frame\" }, [new Uint8Array([1, 2, 3]), new Uint16Array([513]).buffer]);\n"
            'out.close({ bye: true });',
            others=others,
        )
        self.assertEqual(done.reply["status"], "ok")
        opened, sent, closed = (m for m in done.outputs if m["msg_type"].startswith("comm_"))
        self.assertEqual((opened["msg_type"], sent["msg_type"], closed["msg_type"]), ("comm_open", "comm_msg", "comm_close"))
        self.assertEqual(opened["content"]["target_name"], "fz.frames")
        self.assertEqual(struct.unpack("<2f", bytes(opened["buffers"][0])), (1.5, -2.0))
        self.assertEqual(sent["content"]["data"], {"step": 1})
        self.assertEqual(sent["metadata"], {"kind": "frame"})
        self.assertEqual([bytes(b) for b in sent["buffers"]], [b"\x01\x02\x03", struct.pack("<H", 513)])
        self.assertEqual(closed["content"]["data"], {"bye": True})

    def test_comm_messages_are_served_while_a_cell_awaits(self):
        execute_ok(
            self,
            self.kc,
            'import { currentCommManager } from "fatezero/kernel";\n'
            "let release: (value: number) => void = () => undefined;\n"
            "const released = new Promise<number>((resolve) => (release = resolve));\n"
            'currentCommManager().registerTarget("fz.gate", (comm) => comm.onMsg((data) => release(data.value as number)));',
        )
        msg_id = self.kc.execute("(await released) * 2")
        wait_for_iopub(self.kc, lambda m: m["msg_type"] == "execute_input" and m["parent_header"].get("msg_id") == msg_id)
        comm_id = uuid.uuid4().hex
        self.send_comm("comm_open", {"comm_id": comm_id, "target_name": "fz.gate", "data": {}})
        self.send_comm("comm_msg", {"comm_id": comm_id, "data": {"value": 21}})
        outputs = iopub_until_idle(self.kc, msg_id)
        self.assertEqual(reply_for(self.kc.get_shell_msg, msg_id)["content"]["status"], "ok")
        self.assertEqual([m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"], ["42"])

    def test_comm_open_to_an_unknown_target_is_closed(self):
        comm_id = uuid.uuid4().hex
        self.send_comm("comm_open", {"comm_id": comm_id, "target_name": "no.such.target", "data": {}})
        closed = wait_for_iopub(self.kc, lambda m: m["msg_type"] == "comm_close")
        self.assertEqual(closed["content"]["comm_id"], comm_id)


class ProtocolTests(KernelTestCase):
    def test_bad_signature_is_rejected_logged_and_the_kernel_stays_up(self):
        forged = Session(key=b"not-the-kernel-key", username="mallory")
        bad = forged.msg("execute_request", {"code": "globalThis.pwned = true", "silent": False})
        forged.send(self.kc.shell_channel.socket, bad)
        good_id = self.kc.kernel_info()
        # Requests are handled in arrival order: an answer to the forged one would come before this reply.
        earlier = []
        reply_for(self.kc.get_shell_msg, good_id, skipped=earlier)
        self.assertNotIn(bad["header"]["msg_id"], [m["parent_header"].get("msg_id") for m in earlier])
        self.assertIn("rejected a message on shell: invalid signature", self.kernel_log())
        self.assertEqual(execute_ok(self, self.kc, "typeof (globalThis as any).pwned").result(), "'undefined'")

    def test_a_replayed_signed_message_is_rejected(self):
        msg = self.kc.session.msg("execute_request", {"code": "(globalThis as any).runs = ((globalThis as any).runs ?? 0) + 1", "silent": False})
        self.kc.shell_channel.send(msg)
        reply_for(self.kc.get_shell_msg, msg["header"]["msg_id"])
        # The captured frames, sent again byte for byte.
        self.kc.session.send(self.kc.shell_channel.socket, msg)
        self.assertIn("replayed message", self.wait_for_log("replayed message"))
        self.assertEqual(execute_ok(self, self.kc, "(globalThis as any).runs").result(), "1")

    def test_unknown_and_prototype_msg_types_are_ignored_and_logged(self):
        for msg_type in ["__proto__", "constructor", "valueOf", "no_such_request"]:
            self.kc.shell_channel.send(self.kc.session.msg(msg_type, {}))
        log = self.wait_for_log('unknown message type "no_such_request"')
        for msg_type in ["__proto__", "constructor", "valueOf"]:
            self.assertIn(f'unknown message type "{msg_type}"', log)
        self.assertNotIn("TypeError", log)
        self.assertEqual(execute_ok(self, self.kc, "1 + 1").result(), "2")

    def test_signed_message_with_buffers_is_accepted(self):
        msg = self.kc.session.msg("comm_info_request", {})
        msg["buffers"] = [b"\x00\x01unsigned buffer frames are not part of the signature"]
        self.kc.shell_channel.send(msg)
        self.assertEqual(reply_for(self.kc.get_shell_msg, msg["header"]["msg_id"])["msg_type"], "comm_info_reply")

    def test_restart_starts_a_fresh_kernel(self):
        execute_ok(self, self.kc, "const beforeRestart = 1;")
        old = self.km.provisioner.process
        self.km.restart_kernel(now=False)
        self.assertEqual(old.wait(timeout=TIMEOUT), 0, "the old kernel did not exit cleanly")
        self.kc.wait_for_ready(timeout=TIMEOUT)
        self.assertEqual(execute_ok(self, self.kc, "1 + 1").reply["execution_count"], 1)
        forgotten = execute(self.kc, "beforeRestart")
        self.assertIn("Cannot find name 'beforeRestart'", forgotten.reply["evalue"])


if __name__ == "__main__":
    unittest.main()
