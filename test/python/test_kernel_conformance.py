"""Debian's jupyter_kernel_test suite against the fatezero kernel (message schemas, streams, results,
completion, is_complete, inspection, display_data, clear_output, errors and history)."""
import unittest

import jupyter_kernel_test

# A 1×1 PNG, decoded by the cell: display_data must carry image/png as base64.
PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


class FateZeroKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "fatezero"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something on stderr")'
    code_generate_error = 'throw new Error("boom")'

    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "const zebraFish = 1;\nzebraF", "matches": {"zebraFish"}},
    ]
    complete_code_samples = ["1 + 1", "const a = 1;", "function f() {\n  return 1;\n}"]
    incomplete_code_samples = ["function f() {", "const xs = [1,", "if (true) {\n  console.log(1);"]

    code_execute_result = [
        {"code": "1 + 2 + 3", "result": "6"},
        {"code": '"type" + "script"', "result": "'typescript'"},
        {"code": "const answer: number = 42;\nanswer", "result": "42"},
    ]
    code_display_data = [
        {"code": 'import { displayHtml } from "fatezero/kernel";\ndisplayHtml("<b>bold</b>")', "mime": "text/html"},
        {
            "code": 'import { displayImage } from "fatezero/kernel";\n'
            f'displayImage(Buffer.from("{PNG_BASE64}", "base64"))',
            "mime": "image/png",
        },
    ]
    code_clear_output = 'import { clearOutput } from "fatezero/kernel";\nclearOutput()'
    code_inspect_sample = "Math.max"

    code_history_pattern = "1 + 2*"
    supported_history_operations = ("tail", "range", "search")


if __name__ == "__main__":
    unittest.main()
