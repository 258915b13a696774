// Long clips on SD 1.5's architecture (random weights): one inversion step and one edit step (with decoding)
// of a sample clip of any length, the UNet in its default windows. A case that compares frame counts runs the
// shorter one in a child process, so that each peak RSS is its own. And the windows' deviation from the
// whole clip, on the trained world model.
import { spawnSync } from "node:child_process";
import { DEFAULT_P2P } from "../src/fatezero/editOptions";
import { decodeLatents } from "../src/fatezero/decodeLatents";
import { editVideo } from "../src/fatezero/editVideo";
import { releaseFusedUnets } from "../src/fatezero/fusedUnet";
import { windowFrames } from "../src/fatezero/frameWindows";
import { parseSelectors } from "../src/networks/frameLayout";
import { invertVideo } from "../src/fatezero/invertVideo";
import { loadModel } from "../src/fatezero/loadModel";
import { makeSampleClip } from "../src/world/sampleClip";
import { SAMPLE_ATTRIBUTES } from "../src/world/vocabulary";
import { renderWorldClip, WORLD_SIZE } from "../src/world/worldClip";
import { WORLD_STEPS } from "../src/world/worldModel";

const PROMPT = "a red car driving down a curvy road in the countryside";
const TARGET = "a silver jeep driving down a curvy road in the snow";
const peakRss = () => process.resourceUsage().maxRSS * 1024;
const now = () => performance.now() / 1000;

/** One inversion step, one edit step and decoding of `frames` frames at `size`², timed, with the peak RSS. */
export async function longVideoStep(modelFolder: string, cacheDir: string, frames: number, size: number) {
  const model = await loadModel(modelFolder, { cacheDir });
  const clip = makeSampleClip(frames, size);
  const t0 = now();
  const inversion = await invertVideo(model, {
    frames: clip.frames,
    frameCount: frames,
    height: size,
    width: size,
    prompt: PROMPT,
    steps: 1,
  });
  const t1 = now();
  const peakRssAfterInversion = peakRss();
  const edit = await editVideo(model, inversion, { prompt: TARGET, sourcePrompt: PROMPT, p2p: { ...DEFAULT_P2P } });
  const peakRssAfterEdit = peakRss();
  // As `fatezero edit` does: the UNet is closed before decoding.
  await releaseFusedUnets(model);
  const t2 = now();
  await decodeLatents(model, edit.latents);
  const frameChunk = inversion.key.frameChunk ?? frames;
  return {
    ran: `${frames} frames at ${size}², 1 inversion step + 1 edit step + decoding, SD 1.5 architecture`,
    frames,
    size,
    frameChunk,
    windowFrames: windowFrames(frames, parseSelectors(inversion.key.unet.selectors), frameChunk),
    inversionSecondsWithBuild: t1 - t0,
    editSeconds: t2 - t1,
    decodeSeconds: now() - t2,
    peakRssAfterInversion,
    peakRssAfterEdit,
    peakRssBytes: peakRss(),
  };
}

/** `longVideoStep` in a child process of this bench (its `--long F S` mode), for a peak RSS of its own. */
export function longVideoStepInChild(benchScript: string, frames: number, size: number): Record<string, unknown> {
  const r = spawnSync(process.execPath, [benchScript, "--long", String(frames), String(size)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`long-video child (${frames} frames) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

/**
 * How far windows move an edit from the whole-clip edit: world clip 13 (128², red → blue car in the snow, the
 * world model's 20 steps) at `frames` frames, edited whole and in windows of each of `chunks` frames; PSNR of
 * the decoded frames against the whole-clip edit, and of the edit against its source for scale.
 */
export async function windowDeviation(cacheDir: string, frames: number, chunks: number[]) {
  const model = await loadModel("world", { cacheDir });
  const world = renderWorldClip(13, SAMPLE_ATTRIBUTES, { frames, size: WORLD_SIZE });
  const prompt = world.captions[0];
  const target = prompt.replace("countryside", "snow").replace("red", "blue");
  const edit = async (frameChunk: number) => {
    const r = {
      frames: world.clip.frames,
      frameCount: frames,
      height: WORLD_SIZE,
      width: WORLD_SIZE,
      prompt,
      steps: WORLD_STEPS,
      frameChunk,
    };
    const result = await editVideo(model, await invertVideo(model, r), { prompt: target, sourcePrompt: prompt, p2p: { ...DEFAULT_P2P } });
    return decodeLatents(model, result.latents);
  };
  const whole = await edit(frames);
  const psnrVsWhole: Record<string, number> = {};
  for (const c of chunks) psnrVsWhole[`windowsOf${c}`] = psnr(await edit(c), whole);
  return {
    ran: `world clip 13, ${frames} frames, "${prompt}" → "${target}"`,
    frames,
    psnrVsWhole,
    editVsSourcePsnr: psnr(whole, world.clip.frames),
  };
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let squared = 0;
  for (let i = 0; i < a.length; i++) squared += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (squared / a.length));
}
