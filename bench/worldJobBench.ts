// The world model's user-facing times: the README's main command from an empty cache and again with another
// prompt (graphs and the inversion cached), each a child process timed from outside; and an EditStudio re-run
// (Run against the cached inversion: the edit loop, decoding and the frames sent to the scrubber).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { invertVideo } from "../src/fatezero/invertVideo";
import { InversionCache } from "../src/fatezero/inversionCache";
import { loadModel } from "../src/fatezero/loadModel";
import { SAMPLE_CLIP_PROMPT } from "../src/world/sampleClip";
import { SAMPLE_ATTRIBUTES } from "../src/world/vocabulary";
import { renderWorldClip } from "../src/world/worldClip";
import { EditStudio } from "../widgets/kernelSide/editStudio";
import { SerialisingComms } from "./maskPreviewBench";

const BIN = path.resolve(__dirname, "..", "..", "bin", "fatezero.js");
/** The README's main command's target, and a second prompt for the re-run. */
const MAIN_TARGET = "a red car driving down a curvy road in the snow";
const SECOND_TARGET = "a red car driving down a curvy road in the desert";

function timedEdit(cacheDir: string, target: string, out: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, "edit", "--target", target, "--out", out], {
    encoding: "utf8",
    env: { ...process.env, FATEZERO_CACHE: cacheDir },
  });
  if (r.status !== 0) throw new Error(`fatezero edit failed (${r.status}): ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

/** `npx fatezero edit --target …` on the defaults: from an empty cache, then another target on the warm cache. */
export function worldMainJobBench(): Record<string, unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-main-job-"));
  try {
    const cache = path.join(dir, "cache");
    return {
      ran: `fatezero edit --target "${MAIN_TARGET}" --out edit.mp4 (empty FATEZERO_CACHE), then --target "${SECOND_TARGET}"`,
      coldSeconds: timedEdit(cache, MAIN_TARGET, path.join(dir, "edit.mp4")),
      warmSeconds: timedEdit(cache, SECOND_TARGET, path.join(dir, "edit2.mp4")),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Seconds of EditStudio.run() on the cached inversion of world clip 13 (after one warm-up run). */
export async function worldStudioRerunBench(cacheDir: string): Promise<Record<string, unknown>> {
  const model = await loadModel("world", { cacheDir });
  const { clip } = renderWorldClip(13, SAMPLE_ATTRIBUTES);
  const inversion = await invertVideo(
    model,
    { frames: clip.frames, frameCount: clip.count, height: clip.height, width: clip.width, prompt: SAMPLE_CLIP_PROMPT, steps: 20 },
    { cache: new InversionCache(cacheDir) },
  );
  const studio = await EditStudio.open({
    model,
    clip,
    inversion,
    prompt: SAMPLE_CLIP_PROMPT.replace("red", "blue"),
    controller: "replace",
    blendWords: ["car"],
    comms: new SerialisingComms(),
  });
  await studio.run(); // warm-up: the first run builds nothing new but touches every session once
  const seconds: number[] = [];
  for (let k = 0; k < 3; k++) {
    studio.tuner.update({ threshold: 0.2 + 0.1 * k });
    const t0 = performance.now();
    await studio.run();
    seconds.push((performance.now() - t0) / 1000);
  }
  return {
    ran: "EditStudio.run() ×3 after a warm-up, world clip 13, red → blue car, blend word car",
    seconds,
    frames: clip.count,
    size: clip.width,
  };
}
