// Issue 37, measurement: one evaluation of the product's fused video UNet (SD 1.5 architecture, random
// weights) in float32 and with the int8 pass (src/onnx/quantize.ts), both sessions open in this process and
// run interleaved on the same inputs, so that the shared machine's load affects both alike. Reports wall and
// CPU time per evaluation, the int8 output's error against float32, and from ONNX Runtime's profile of one run
// which operators ran and in which element types. Also a probe of the CPU provider's float16/bfloat16 support.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { defaultUnetBuild } from "../src/fatezero/attentionSites";
import { fusedUnetGraph, type UnetCall } from "../src/fatezero/fusedUnet";
import { encodePrompts, loadModel } from "../src/fatezero/loadModel";
import type { Graph } from "../src/onnx/graph";
import { outputError, QuantizedGraph } from "../src/onnx/quantize";
import { writeGraph } from "../src/onnx/session";
import { CheckpointWeights } from "../src/onnx/weightSource";

const PROMPT = "a red car driving down a curvy road in the countryside";
const THREADS = 2;
const ROUNDS = 3;
/** Operators whose products are integer (uint8 × int8 → int32 in MLAS) or that quantize activations for them. */
const INTEGER_OPS = new Set([
  "DynamicQuantizeMatMul",
  "MatMulIntegerToFloat",
  "MatMulInteger",
  "ConvInteger",
  "QLinearConv",
  "QLinearMatMul",
]);

/** Kernel time and count per operator and input element types, from one profiled run. */
interface OpUse {
  op: string;
  types: string;
  count: number;
  ms: number;
}

/** The fused UNet's graph for these options, as src/fatezero/fusedUnet.ts builds it. */
function fusedGraph(model: Awaited<ReturnType<typeof loadModel>>, latent: [number, number]) {
  return fusedUnetGraph(model, defaultUnetBuild(latent));
}

/** Open `graph` from the graph cache with the product's CPU settings plus profiling (of the first runs only). */
async function open(graph: Graph, files: ReturnType<CheckpointWeights["linkedFiles"]>, cacheDir: string, profileDir: string) {
  const modelPath = writeGraph(graph, files, cacheDir);
  const prefix = path.join(fs.mkdtempSync(path.join(profileDir, `${graph.name}-`)), "profile"); // its own folder
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: "all",
    executionProviders: ["cpu"],
    intraOpNumThreads: THREADS,
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  return { session, prefix, modelBytes: fs.statSync(modelPath).size };
}

/** Stop profiling and summarise the kernels of the last profiled run. */
function profileSummary(session: ort.InferenceSession, prefix: string): OpUse[] {
  session.endProfiling();
  const dir = path.dirname(prefix);
  const file = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(path.basename(prefix) + "_") && f.endsWith(".json"))
    .sort()
    .pop()!;
  type Event = {
    cat: string;
    name: string;
    ts: number;
    dur: number;
    args?: { op_name?: string; input_type_shape?: Record<string, unknown>[] };
  };
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as Event[];
  fs.rmSync(path.join(dir, file));
  const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run");
  const last = runs[runs.length - 1];
  const uses = new Map<string, OpUse>();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time") || e.ts < last.ts || e.ts > last.ts + last.dur) continue;
    const op = e.args?.op_name ?? "?";
    const types = (e.args?.input_type_shape ?? []).map((t) => Object.keys(t)[0]).join(",");
    const key = `${op}(${types})`;
    const u = uses.get(key) ?? { op, types, count: 0, ms: 0 };
    u.count++;
    u.ms += e.dur / 1000;
    uses.set(key, u);
  }
  return [...uses.values()].sort((a, b) => b.ms - a.ms);
}

/** Share of kernel time by kind: integer products (and their activation quantization), float GEMM-type ops, the rest. */
function shares(uses: OpUse[]) {
  const total = uses.reduce((a, u) => a + u.ms, 0);
  const sum = (f: (u: OpUse) => boolean) => uses.filter(f).reduce((a, u) => a + u.ms, 0);
  const integer = sum((u) => INTEGER_OPS.has(u.op));
  const quantizeActivations = sum((u) => u.op === "DynamicQuantizeLinear");
  const floatProducts = sum((u) => ["MatMul", "FusedMatMul", "Conv", "FusedConv", "Gemm"].includes(u.op) && !u.types.includes("int8"));
  return {
    kernelMs: +total.toFixed(1),
    integerProductMs: +integer.toFixed(1),
    quantizeActivationMs: +quantizeActivations.toFixed(1),
    floatProductMs: +floatProducts.toFixed(1),
    otherMs: +(total - integer - quantizeActivations - floatProducts).toFixed(1),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const mb = (b: number) => Math.round(b / 2 ** 20);

/**
 * fp32 against int8 at `size`² (latent size/8), batch 1, 2 frames, t = 500, neutral controls: prints the fp32
 * line itself and returns the int8 line (with the speed-up and the error against the fp32 output). `products`
 * picks what is quantized: both kinds, or only the linear layers (MatMul) or only the convolutions.
 */
export async function unetPrecisionBench(
  sd15Dir: string,
  cacheDir: string,
  size: number,
  products: "all" | "matmul" | "conv" = "all",
): Promise<Record<string, unknown>> {
  const frames = 2;
  const latent: [number, number] = [size / 8, size / 8];
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-unet-profile-"));
  try {
    const model = await loadModel(sd15Dir, { cacheDir, threads: THREADS });
    const rssModel = process.memoryUsage().rss;
    const fp32Graph = fusedGraph(model, latent);
    const fp32 = await open(fp32Graph.graph, fp32Graph.files, cacheDir, profileDir);
    const rssFp32 = process.memoryUsage().rss;
    const int8Graph = fusedGraph(model, latent);
    const quantized = new QuantizedGraph(int8Graph.graph, int8Graph.files, { matmul: products !== "conv", conv: products !== "matmul" });
    const t0 = performance.now();
    const int8 = await open(quantized, int8Graph.files, cacheDir, profileDir);
    const quantizeAndLoadSeconds = (performance.now() - t0) / 1000;
    const rssInt8 = process.memoryUsage().rss;
    const unets = { fp32: fp32Graph.wrap(fp32.session), int8: int8Graph.wrap(int8.session) };

    const C = model.dims.latentChannels;
    const dims: [number, number, number, number, number] = [1, C, frames, latent[0], latent[1]];
    const sample = Float32Array.from({ length: C * frames * latent[0] * latent[1] }, (_, i) => Math.sin(i * 0.37) * 0.9);
    const context = await encodePrompts(model, [PROMPT]);
    const call: UnetCall = { sample, dims, timestep: 500, context };
    const outputs: Record<string, Float32Array> = {};
    // Two profiled runs each (the first allocates); the second's kernels are summarised.
    for (const name of ["fp32", "int8"] as const) {
      outputs[name] = (await unets[name].predict(call)).noise;
      await unets[name].predict(call);
    }
    const ops = { fp32: profileSummary(fp32.session, fp32.prefix), int8: profileSummary(int8.session, int8.prefix) };

    const wall: Record<string, number[]> = { fp32: [], int8: [] };
    const cpu: Record<string, number[]> = { fp32: [], int8: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of r % 2 ? (["int8", "fp32"] as const) : (["fp32", "int8"] as const)) {
        const c0 = process.cpuUsage();
        const w0 = performance.now();
        await unets[name].predict(call);
        wall[name].push(performance.now() - w0);
        const c = process.cpuUsage(c0);
        cpu[name].push((c.user + c.system) / 1000);
      }
    }

    const err = outputError(outputs.int8, outputs.fp32);
    const common = {
      size,
      latent,
      batch: 1,
      frames,
      quantizedProducts: products,
      timestep: 500,
      threads: THREADS,
      rounds: ROUNDS,
      loadavg: os.loadavg().map((v) => +v.toFixed(2)),
    };
    const line = (name: "fp32" | "int8") => ({
      precision: name,
      wallMsMedian: Math.round(median(wall[name])),
      cpuMsMedian: Math.round(median(cpu[name])),
      wallMs: wall[name].map(Math.round),
      cpuMs: cpu[name].map(Math.round),
      kernels: shares(ops[name]),
      topOps: ops[name].slice(0, 12).map((u) => `${u.op}(${u.types}) ×${u.count} ${u.ms.toFixed(0)} ms`),
    });
    console.log(
      JSON.stringify({
        bench: `unet-sd15-${size}-fp32`,
        ...common,
        ...line("fp32"),
        modelFileMB: mb(fp32.modelBytes),
        rssGrowthAtLoadMB: mb(rssFp32 - rssModel),
        ort: ort.env.versions.node,
      }),
    );
    const intOps = ops.int8.filter((u) => INTEGER_OPS.has(u.op) || u.op === "DynamicQuantizeLinear");
    return {
      ...common,
      ...line("int8"),
      speedupWall: +(median(wall.fp32) / median(wall.int8)).toFixed(2),
      speedupCpu: +(median(cpu.fp32) / median(cpu.int8)).toFixed(2),
      maxAbsError: err.max,
      meanAbsError: err.mean,
      refMeanAbs: err.refMean,
      refMaxAbs: err.refMax,
      meanRelError: err.meanRel,
      ranInInteger: intOps.map((u) => `${u.op}(${u.types}) ×${u.count}`),
      quantized: quantized.report,
      quantizeAndLoadSeconds: +quantizeAndLoadSeconds.toFixed(1),
      modelFileMB: mb(int8.modelBytes),
      rssGrowthAtLoadMB: mb(rssInt8 - rssFp32),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    fs.rmSync(profileDir, { recursive: true, force: true });
  }
}

/**
 * What the CPU provider does with float16 and bfloat16 MatMul/Conv: for each, whether a session loads and runs,
 * the kernels its profile shows (a float16 node without a float16 kernel is run as Cast → float32 → Cast), and
 * the time against float32 on the same shapes.
 */
export async function lowPrecisionProbe(): Promise<Record<string, unknown>> {
  const T = onnx.TensorProto.DataType;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-lowp-"));
  const cases = {
    MatMul: { x: [1024, 1024], w: [1024, 1024], y: [1024, 1024], attrs: [] as onnx.IAttributeProto[], flops: 2 * 1024 ** 3 },
    Conv: {
      x: [2, 320, 32, 32],
      w: [320, 320, 3, 3],
      y: [2, 320, 32, 32],
      attrs: [{ name: "pads", type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }],
      flops: 2 * 2 * 1024 * 2880 * 320,
    },
  };
  const results: Record<string, unknown>[] = [];
  try {
    for (const [op, c] of Object.entries(cases)) {
      for (const [typeName, type] of [
        ["float32", T.FLOAT],
        ["float16", T.FLOAT16],
        ["bfloat16", T.BFLOAT16],
      ] as const) {
        const vi = (name: string, dims: number[]) => ({
          name,
          type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
        });
        const bytes = onnx.ModelProto.encode(
          onnx.ModelProto.create({
            irVersion: 8,
            opsetImport: [{ domain: "", version: 17 }],
            graph: {
              name: "probe",
              node: [{ opType: op, input: ["x", "w"], output: ["y"], name: "probe", attribute: c.attrs }],
              input: [vi("x", c.x), vi("w", c.w)],
              output: [vi("y", c.y)],
            },
          }),
        ).finish();
        const prefix = path.join(dir, `${op}-${typeName}`);
        try {
          const s = await ort.InferenceSession.create(bytes, {
            intraOpNumThreads: THREADS,
            enableProfiling: true,
            profileFilePrefix: prefix,
          });
          const tensor = (dims: number[]) => {
            const n = dims.reduce((a, b) => a * b, 1);
            if (typeName === "float32")
              return new ort.Tensor(
                "float32",
                Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
                dims,
              );
            // 0x3c00 is 1.0 in float16; bfloat16 has no tensor type in onnxruntime-node, so feeds are attempted as float16 bits.
            return new ort.Tensor("float16", new Uint16Array(n).fill(0x3c00), dims);
          };
          const feeds = { x: tensor(c.x), w: tensor(c.w) };
          await s.run(feeds);
          const t0 = performance.now();
          for (let i = 0; i < 3; i++) await s.run(feeds);
          const ms = (performance.now() - t0) / 3;
          s.endProfiling();
          const file = fs.readdirSync(dir).find((f) => f.startsWith(path.basename(prefix) + "_"))!;
          type Event = { cat: string; name: string; args?: { op_name?: string; input_type_shape?: Record<string, unknown>[] } };
          const kernels = new Set(
            (JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as Event[])
              .filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time"))
              .map((e) => `${e.args?.op_name}(${(e.args?.input_type_shape ?? []).map((t) => Object.keys(t)[0]).join(",")})`),
          );
          results.push({
            op,
            type: typeName,
            loads: true,
            kernels: [...kernels],
            ms: +ms.toFixed(1),
            gflops: +(c.flops / ms / 1e6).toFixed(1),
          });
        } catch (e) {
          results.push({
            op,
            type: typeName,
            loads: false,
            error: String((e as Error).message)
              .split("\n")[0]
              .slice(0, 200),
          });
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { threads: THREADS, results };
}
