// `mask-preview`: kernel milliseconds from a threshold change to the new mask having been sent, for FateZero's
// default 8 frames at 512² (the tiny model's inversion; the preview reads only its cached mask maps). A comm
// that serialises like the kernel (JSON of the data, buffers counted) stands in for the frontend.
import type { Buffers, Comm, CommManager } from "../kernel/commTypes";
import { invertVideo } from "../src/fatezero/invertVideo";
import { loadModel } from "../src/fatezero/loadModel";
import { makeSampleClip } from "../src/world/sampleClip";
import { MaskTuner } from "../widgets/kernelSide/maskTuner";

/** A comm manager whose comms only serialise what they send and count the bytes. */
export class SerialisingComms implements CommManager {
  bytesSent = 0;
  private next = 0;

  open(targetName: string, data: Record<string, unknown>, _metadata?: Record<string, unknown>, buffers: Buffers = []): Comm {
    this.count(data, buffers);
    const comm: Comm = {
      commId: `bench-${this.next++}`,
      targetName,
      send: (d, _m, b = []) => this.count(d, b),
      close: () => undefined,
      onMsg: () => undefined,
      onClose: () => undefined,
    };
    return comm;
  }

  registerTarget(): void {}

  private count(data: Record<string, unknown>, buffers: Buffers): void {
    this.bytesSent += JSON.stringify(data).length + buffers.reduce((n, b) => n + b.byteLength, 0);
  }
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median and worst milliseconds of threshold moves (cached map) and of blend-word / step changes (full recompute). */
export async function maskPreviewBench(cacheDir: string, prompt: string): Promise<Record<string, unknown>> {
  const model = await loadModel("tiny", { cacheDir });
  const clip = makeSampleClip(8, 512);
  const inversion = await invertVideo(model, { frames: clip.frames, frameCount: 8, height: 512, width: 512, prompt, steps: 2 });
  const comms = new SerialisingComms();
  const tuner = await MaskTuner.create(inversion, model, clip, { comms, blendWords: ["car"] });
  const time = (change: () => void) => {
    const t0 = performance.now();
    change();
    return performance.now() - t0;
  };
  const thresholdMs: number[] = [];
  for (let k = 0; k < 50; k++) thresholdMs.push(time(() => tuner.set("threshold", 0.05 + (k % 19) * 0.05)));
  const recomputeMs: number[] = [];
  for (let k = 0; k < 10; k++) recomputeMs.push(time(() => tuner.update({ blend_words: k % 2 ? ["car"] : ["red", "car"], step: k % 2 })));
  const maps = inversion.maskMaps!;
  return {
    thresholdChangeMs: { median: median(thresholdMs), max: Math.max(...thresholdMs) },
    wordsOrStepChangeMs: { median: median(recomputeMs), max: Math.max(...recomputeMs) },
    frames: 8,
    size: 512,
    maskMapSize: [maps.height, maps.width],
    previewSize: [tuner.get("mask_height"), tuner.get("mask_width")],
    bytesPerUpdate: Math.round(comms.bytesSent / (1 + thresholdMs.length + recomputeMs.length)),
  };
}
