// The negative prompt of classifier-free guidance: "source" (negative-prompt inversion) makes guidance scale
// only what the new words (and FateZero's fusion on the edit branch) change, so without attention control an edit
// towards the inversion prompt is the unguided DDIM reversal at any scale; a world model asks for it by default,
// every other model keeps FateZero's empty prompt.
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { DEFAULT_P2P, type EditSpec } from "../src/fatezero/editOptions";
import { editVideo } from "../src/fatezero/editVideo";
import { invertVideo } from "../src/fatezero/invertVideo";
import { loadModel, modelFacts } from "../src/fatezero/loadModel";
import { modelEditDefaults } from "../src/fatezero/modelDefaults";
import { readVideo } from "../src/video/readVideo";
import { WORLD_EDIT_LOOP } from "../src/world/worldModel";
import { assertRefused, runCli } from "./support/cliRun";
import { SHARED, tempDir } from "./sharedData";
import { assertEditingRefused, editingLoop } from "./support/editingYaml";

const cacheDir = tempDir("negative-prompt-cache");
const SOURCE = "a silver jeep driving down a curvy road in the countryside";
const TARGET = "a red jeep driving down a curvy road in the countryside";

const setup = (async () => {
  const [model, clip] = await Promise.all([
    loadModel("tiny", { cacheDir }),
    readVideo(path.join(SHARED, "data/car-turn"), { size: 128, nSampleFrame: 2 }),
  ]);
  const size = { frameCount: clip.count, height: clip.height, width: clip.width };
  return { model, inversion: await invertVideo(model, { frames: clip.frames, ...size, prompt: SOURCE, steps: 4 }) };
})();

const spec = (prompt: string): EditSpec => ({ prompt, sourcePrompt: SOURCE, p2p: { ...DEFAULT_P2P, isReplaceController: false } });

test("against the source prompt, the reconstruction is the same at every guidance scale and the edit is not", async () => {
  const { model, inversion } = await setup;
  const run = async (prompt: string, guidanceScale: number, negativePrompt: "empty" | "source") =>
    (await editVideo(model, inversion, spec(prompt), { guidanceScale, negativePrompt, attention: "none" })).latents.data;
  const [low, high] = [await run(SOURCE, 1.5, "source"), await run(SOURCE, 7.5, "source")];
  const unguided = (await editVideo(model, inversion, spec(SOURCE), { guidanceScale: 1, attention: "none" })).latents.data;
  assert.ok(maxDiff(high, low) < 1e-4, `cond − uncond is 0 when both read the source prompt (max diff ${maxDiff(high, low)})`);
  assert.ok(maxDiff(high, unguided) < 1e-4, `and it is the unguided reversal (max diff ${maxDiff(high, unguided)})`);
  assert.ok(maxDiff(await run(SOURCE, 7.5, "empty"), high) > 0.05, "the empty prompt's guidance moves the reconstruction");
  assert.ok(maxDiff(await run(TARGET, 7.5, "source"), await run(TARGET, 1.5, "source")) > 0.05, "guidance still scales the edit");
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("a world model asks for its loop defaults; the tiny model and SD folders keep FateZero's", () => {
  assert.deepEqual(modelFacts("world").editDefaults, WORLD_EDIT_LOOP);
  assert.deepEqual(modelFacts("tiny").editDefaults, {});
  assert.deepEqual(modelFacts(path.join(SHARED, "reference/public/model")).editDefaults, {});
  assert.deepEqual(modelEditDefaults({ modelIndex: { _fatezero: { model: "world-miniature" } } }), {});
  assert.deepEqual(modelEditDefaults({ modelIndex: { _fatezero: "world" } }), {});
});

test("the dry run prints the negative prompt that runs; flags override it and bad values exit 2", () => {
  const env = { ...process.env, FATEZERO_CACHE: cacheDir };
  const plan = (...args: string[]) => runCli(["edit", "--dry-run", ...args], env).out;
  assert.match(plan("--target", TARGET), /guidance 1\.5 against the source prompt \(negative-prompt inversion\)/);
  assert.match(plan("--target", TARGET, "--negative-prompt", "empty", "--guidance", "3"), /guidance 3 against the empty prompt/);
  assert.match(plan("--target", TARGET, "--model", "tiny"), /against the empty prompt/);
  const refused = (args: string[], message: RegExp) => assertRefused(runCli(args, env), message, args.join(" "));
  refused(["edit", "--dry-run", "--target", TARGET, "--negative-prompt", "blurry"], /--negative-prompt "blurry"; one of: empty, source/);
  refused(["edit", "--dry-run", "--target", TARGET, "--guidance", "-1"], /--guidance: expected a number in 0…100/);
  refused(["world-bench", "--negative-prompt", "none"], /--negative-prompt "none"/);
});

test("a YAML config keeps FateZero's empty prompt unless editing_config.negative_prompt says source", () => {
  assert.equal(editingLoop("").negativePrompt, "empty");
  assert.equal(editingLoop("  negative_prompt: source\n").negativePrompt, "source");
  assertEditingRefused("  negative_prompt: blurry\n", /editing_config\.negative_prompt.*one of empty, source/);
});
