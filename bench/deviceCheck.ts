// What bench/device-check.sh runs on a machine with a GPU: the world model's edit and one evaluation of the
// editing UNet with SD 1.5's architecture at 512², each on the CPU and on the GPU device, timed and compared
// (max abs difference of the GPU's result from the CPU's). One JSON line per check. `--quick`: the world
// edit with 2 steps on the CPU only (what the packaging test runs, on a machine without a GPU).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { decodeLatents } from "../src/fatezero/decodeLatents";
import { DEFAULT_P2P } from "../src/fatezero/editOptions";
import { editVideo } from "../src/fatezero/editVideo";
import { defaultUnetBuild } from "../src/fatezero/attentionSites";
import { fusedUnet, type UnetCall } from "../src/fatezero/fusedUnet";
import { invertVideo } from "../src/fatezero/invertVideo";
import { encodePrompts, loadModel } from "../src/fatezero/loadModel";
import { sd15ModelSpec } from "../src/networks/modelSpecs";
import { writeRandomModel } from "../src/networks/randomModel";
import { checkDevice, parseDevice, type Device } from "../src/onnx/device";
import { SAMPLE_CLIP_PROMPT } from "../src/world/sampleClip";
import { SAMPLE_ATTRIBUTES } from "../src/world/vocabulary";
import { renderWorldClip } from "../src/world/worldClip";

const now = () => performance.now() / 1000;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The world model's edit of world clip 13 (8 frames of 128²) on `device`: inversion, edit and decode, timed. */
async function worldEdit(device: Device, cacheDir: string, steps: number) {
  const t0 = now();
  const model = await loadModel(path.resolve("models/world"), { cacheDir, device });
  const clip = renderWorldClip(13, SAMPLE_ATTRIBUTES).clip;
  const t1 = now();
  const inversion = await invertVideo(model, {
    frames: clip.frames,
    frameCount: clip.count,
    height: clip.height,
    width: clip.width,
    prompt: SAMPLE_CLIP_PROMPT,
    steps,
  });
  const t2 = now();
  const prompt = SAMPLE_CLIP_PROMPT.replace("red", "blue");
  const edit = await editVideo(model, inversion, {
    prompt,
    sourcePrompt: SAMPLE_CLIP_PROMPT,
    p2p: {
      ...DEFAULT_P2P,
      blendWords: [
        ["red", "car"],
        ["blue", "car"],
      ],
      blendSelfAttention: true,
    },
  });
  const t3 = now();
  const frames = await decodeLatents(model, edit.latents);
  return {
    latents: edit.latents.data,
    frames,
    loadSeconds: t1 - t0,
    inversionSeconds: t2 - t1,
    editSeconds: t3 - t2,
    totalSeconds: now() - t0,
  };
}

/** One evaluation of SD 1.5's editing UNet at 512² (3 branches × 1 frame, random weights) on `device`. */
async function sd15Unet(device: Device, folder: string, cacheDir: string) {
  const model = await loadModel(folder, { cacheDir, device });
  const t0 = now();
  const unet = await fusedUnet(model, defaultUnetBuild([64, 64]));
  const loadSeconds = now() - t0;
  const C = model.dims.latentChannels;
  const sample = Float32Array.from({ length: 3 * C * 64 * 64 }, (_, i) => Math.sin(i * 0.01)); // [3, C, 1, 64, 64]
  const context = await encodePrompts(model, ["", SAMPLE_CLIP_PROMPT, SAMPLE_CLIP_PROMPT]); // [3, T, D]
  const call: UnetCall = { sample, dims: [3, C, 1, 64, 64], timestep: 500, context };
  await unet.predict(call); // warm-up: the first run allocates and compiles
  const t1 = now();
  const { noise } = await unet.predict(call);
  return { noise, loadSeconds, seconds: now() - t1 };
}

async function main(argv: string[]): Promise<void> {
  const quick = argv.includes("--quick");
  const device = parseDevice(argv.find((a) => !a.startsWith("--")) ?? "webgpu");
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-device-"));
  const line = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
  if (quick) {
    const cpu = await worldEdit("cpu", cacheDir, 2);
    line({ check: "world-edit", device: "cpu", steps: 2, frames: 8, size: 128, seconds: cpu.totalSeconds });
    return;
  }
  line({ check: "device", device, description: checkDevice(device), node: process.version, cpus: os.cpus().length });
  const steps = 20;
  const [cpu, gpu] = [await worldEdit("cpu", cacheDir, steps), await worldEdit(device, cacheDir, steps)];
  line({
    check: "world-edit",
    device,
    steps,
    frames: 8,
    size: 128,
    cpu: { inversionSeconds: cpu.inversionSeconds, editSeconds: cpu.editSeconds, totalSeconds: cpu.totalSeconds },
    gpu: { inversionSeconds: gpu.inversionSeconds, editSeconds: gpu.editSeconds, totalSeconds: gpu.totalSeconds },
    maxAbsDiffLatents: maxAbsDiff(cpu.latents, gpu.latents),
    maxAbsDiffFrames: maxAbsDiff(cpu.frames, gpu.frames),
  });
  const folder = path.join(cacheDir, "sd15-random");
  const t0 = now();
  writeRandomModel(folder, sd15ModelSpec());
  line({ check: "sd15-random-model", seconds: now() - t0 });
  const [cpuUnet, gpuUnet] = [await sd15Unet("cpu", folder, cacheDir), await sd15Unet(device, folder, cacheDir)];
  let maxAbs = 0;
  for (const v of cpuUnet.noise) maxAbs = Math.max(maxAbs, Math.abs(v));
  line({
    check: "unet-sd15-512",
    device,
    batch: 3,
    cpu: { seconds: cpuUnet.seconds, loadSeconds: cpuUnet.loadSeconds },
    gpu: { seconds: gpuUnet.seconds, loadSeconds: gpuUnet.loadSeconds },
    maxAbsDiff: maxAbsDiff(cpuUnet.noise, gpuUnet.noise),
    maxAbsValue: maxAbs,
  });
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`device check: ${(e as Error).message}`);
  process.exitCode = 1;
});
