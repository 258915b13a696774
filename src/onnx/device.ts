// Where the graphs run: ONNX Runtime's CPU provider, its WebGPU provider (bundled in onnxruntime-node's
// Linux library: Dawn over Vulkan, any GPU with a Vulkan driver), or its CUDA provider (a separate download
// that the package's install script makes with ONNXRUNTIME_NODE_INSTALL=cuda12). A GPU provider is probed
// once, in a child process (a missing adapter makes the native library print to stderr), and its absence is
// bad input with what to install; nodes a provider cannot run fall back to the CPU, as ONNX Runtime does.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { onnx } from "onnx-proto";
import { InputError } from "../util/inputError";

/** The execution providers a run may ask for. */
export const DEVICES = ["cpu", "webgpu", "cuda"] as const;
export type Device = (typeof DEVICES)[number];

/** The device named by a flag or variable, refusing others. */
export function parseDevice(value: string, where = "--device"): Device {
  if (!(DEVICES as readonly string[]).includes(value))
    throw new InputError(`${where}: unknown device "${value}"; one of: ${DEVICES.join(", ")}`);
  return value as Device;
}

/** The device of `FATEZERO_DEVICE` (notebooks), else the CPU. */
export function deviceFromEnvironment(env: NodeJS.ProcessEnv = process.env): Device {
  return parseDevice(env.FATEZERO_DEVICE || "cpu", "FATEZERO_DEVICE");
}

/** A device and how the user named it ("--device cuda", "FATEZERO_DEVICE=webgpu"), for messages. */
export interface ChosenDevice {
  device: Device;
  named: string;
}

/** The CLI's device: the --device flag, else FATEZERO_DEVICE (as the notebooks read it), else the CPU. */
export function chosenDevice(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ChosenDevice {
  if (flag !== undefined) return { device: parseDevice(flag), named: `--device ${flag}` };
  const device = deviceFromEnvironment(env);
  return { device, named: env.FATEZERO_DEVICE ? `FATEZERO_DEVICE=${device}` : "--device cpu" };
}

/** onnxruntime-node's native libraries (the CUDA provider is installed beside them). */
function ortLibraryDir(): string {
  const pkg = path.dirname(require.resolve("onnxruntime-node/package.json"));
  return path.join(pkg, "bin", "napi-v6", process.platform, process.arch);
}

// The probe's child process: the model (base64) opened with one provider and run; exit 0 when Relu(-1, 2) = (0, 2).
const PROBE = `
const ort = require(process.argv[1]);
ort.InferenceSession.create(Buffer.from(process.argv[2], "base64"), { executionProviders: [process.argv[3]] })
  .then((s) => s.run({ x: new ort.Tensor("float32", Float32Array.of(-1, 2), [2]) }))
  .then((r) => process.exit(r.y.data[1] === 2 ? 0 : 3), (e) => { process.stderr.write("PROBE-ERROR " + e.message); process.exit(4); });
`;

/** A one-node model (Relu on 2 floats), built here so the child needs nothing but ONNX Runtime. */
function probeModel(): string {
  const t = { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 2 }] } } };
  const graph = {
    name: "probe",
    node: [{ opType: "Relu", input: ["x"], output: ["y"] }],
    input: [{ name: "x", type: t }],
    output: [{ name: "y", type: t }],
  };
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], graph });
  return Buffer.from(onnx.ModelProto.encode(model).finish()).toString("base64");
}

const checked = new Map<Device, string>();

/**
 * Check once per process that `device` can run graphs; returns a one-line description of it. A GPU provider
 * that is missing is bad input naming what to install, and where the device was chosen (`named`).
 */
export function checkDevice(device: Device, named = `--device ${device}`): string {
  const known = checked.get(device);
  if (known) return known;
  let description = "CPU (ONNX Runtime's CPU provider)";
  if (device === "cuda") {
    const lib = path.join(ortLibraryDir(), "libonnxruntime_providers_cuda.so");
    if (!fs.existsSync(lib)) {
      throw new InputError(
        `${named}: onnxruntime-node's CUDA provider is not installed (it is a separate download): reinstall on a machine ` +
          "with internet, CUDA 12 and cuDNN 9 with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` (or `npm rebuild onnxruntime-node` with that variable)",
      );
    }
  }
  if (device !== "cpu") {
    const r = spawnSync(process.execPath, ["-e", PROBE, require.resolve("onnxruntime-node"), probeModel(), device], {
      encoding: "utf8",
      timeout: 120_000,
    });
    if (r.status !== 0) {
      const raw = /PROBE-ERROR ([^\n]*)/.exec(r.stderr)?.[1] ?? r.stderr.trim().split("\n").pop() ?? `exit ${r.status}`;
      // ONNX Runtime's messages start with its source location and the failed check: keep what they say.
      const detail = raw.split(/ was false\. /).pop()!;
      const need =
        device === "webgpu"
          ? "WebGPU needs a GPU with a Vulkan driver and the Vulkan loader (libvulkan.so.1; Debian: libvulkan1); CPU-only Vulkan (Mesa's llvmpipe) is not accepted"
          : "the CUDA provider needs an NVIDIA GPU with CUDA 12 and cuDNN 9 libraries on the library path";
      throw new InputError(`${named}: ONNX Runtime cannot run on it (${detail.slice(0, 200)}); ${need}`);
    }
    description =
      device === "webgpu" ? "GPU through ONNX Runtime's WebGPU provider (Dawn on Vulkan)" : "GPU through ONNX Runtime's CUDA provider";
    description += "; nodes it cannot run fall back to the CPU, and ONNX Runtime logs which";
  }
  checked.set(device, description);
  return description;
}
