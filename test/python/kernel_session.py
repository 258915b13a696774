"""Driving the fatezero kernel with Debian's jupyter_client: start it, run cells, collect their iopub output.

Every wait is bounded; replies are matched by parent msg_id (jupyter_client's own wait_for_ready sends
several kernel_info requests, so the next message on a channel is not necessarily ours).
"""
import time

from jupyter_client.manager import KernelManager

KERNEL_NAME = "fatezero"
TIMEOUT = 30


def start_kernel(**popen_kwargs):
    """Start the kernel (popen_kwargs go to the process, e.g. stderr=file) and a ready blocking client."""
    km = KernelManager(kernel_name=KERNEL_NAME)
    km.start_kernel(**popen_kwargs)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    return km, kc


def stop_kernel(km, kc):
    """Stop channels and shut the kernel down politely (shutdown_request, then wait)."""
    kc.stop_channels()
    km.shutdown_kernel(now=False)


def deadline_after(seconds):
    """A function giving the seconds left until `seconds` from now (never negative)."""
    end = time.monotonic() + seconds
    return lambda: max(0.0, end - time.monotonic())


def reply_for(get_msg, msg_id, timeout=TIMEOUT, skipped=None):
    """The reply whose parent is `msg_id`, read with `get_msg` (e.g. kc.get_shell_msg); others go to `skipped`."""
    left = deadline_after(timeout)
    while True:
        msg = get_msg(timeout=left())
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg
        if skipped is not None:
            skipped.append(msg)


def iopub_until_idle(kc, msg_id, timeout=TIMEOUT, others=None):
    """The iopub messages parented to `msg_id` up to its idle status; others are appended to `others`."""
    left = deadline_after(timeout)
    mine = []
    while True:
        msg = kc.get_iopub_msg(timeout=left())
        if msg["parent_header"].get("msg_id") != msg_id:
            if others is not None:
                others.append(msg)
            continue
        mine.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return mine


class Executed:
    """A cell's reply and its iopub output (without the status messages)."""

    def __init__(self, reply, outputs):
        self.reply = reply["content"]
        self.outputs = [m for m in outputs if m["msg_type"] != "status"]

    def of_type(self, msg_type):
        return [m["content"] for m in self.outputs if m["msg_type"] == msg_type]

    def result(self):
        results = self.of_type("execute_result")
        return results[0]["data"]["text/plain"] if results else None


def execute(kc, code, timeout=TIMEOUT, others=None, **kwargs):
    """Run a cell and wait for both its reply and its idle status."""
    msg_id = kc.execute(code, **kwargs)
    outputs = iopub_until_idle(kc, msg_id, timeout, others)
    reply = reply_for(kc.get_shell_msg, msg_id, timeout)
    return Executed(reply, outputs)


def execute_ok(test, kc, code, **kwargs):
    """Run a cell that must succeed; fails the test with the kernel's traceback otherwise."""
    done = execute(kc, code, **kwargs)
    test.assertEqual(done.reply["status"], "ok", "\n".join(done.reply.get("traceback", [])))
    return done


def wait_for_iopub(kc, predicate, timeout=TIMEOUT):
    """The first iopub message satisfying `predicate`."""
    left = deadline_after(timeout)
    while True:
        msg = kc.get_iopub_msg(timeout=left())
        if predicate(msg):
            return msg
