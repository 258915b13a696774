// The kernel-side FateZero widgets on the tiny model with real car-turn frames, against an in-process comm
// manager playing the frontend: what each model sends, and how it reacts to the frontend's changes.
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { blendMask } from "../src/fatezero/blendMask";
import { invertVideo } from "../src/fatezero/invertVideo";
import { decodeLatents } from "../src/fatezero/decodeLatents";
import { editVideo } from "../src/fatezero/editVideo";
import { DEFAULT_EDIT_LOOP, DEFAULT_INFLATION, DEFAULT_P2P } from "../src/fatezero/editOptions";
import { resolveEditPlan } from "../src/config/editPlan";
import { defaultFatezeroConfig, parseFatezeroConfig } from "../src/config/fatezeroConfig";
import { loadModel } from "../src/fatezero/loadModel";
import { readVideo } from "../src/video/readVideo";
import {
  controlledMaskSize,
  CrossAttentionViewer,
  EditPanel,
  EditStudio,
  FrameScrubber,
  MaskTuner,
  targetBlendWords,
  tokenHeatmap,
} from "../widgets/kernelSide";
import { MODULE_NAME, WIDGETS } from "../widgets/shared/widgetStates";
import { SHARED, tempDir } from "./sharedData";
import { FakeCommManager, type FakeComm } from "./support/fakeComms";

const SOURCE = "a silver jeep driving down a curvy road in the countryside";
const STEPS = 4;

const setup = (async () => {
  const model = await loadModel("tiny", { cacheDir: tempDir("widget-models-cache") });
  const clip = await readVideo(path.join(SHARED, "data/car-turn"), { size: 128, nSampleFrame: 3 });
  const inversion = await invertVideo(model, {
    frames: clip.frames,
    frameCount: clip.count,
    height: 128,
    width: 128,
    prompt: SOURCE,
    steps: STEPS,
  });
  return { model, clip, inversion };
})();

/** The last `update` state the kernel sent on `comm`, with its buffers put back by path. */
function lastUpdate(comm: FakeComm): Record<string, unknown> {
  const updates = comm.sentWith("update");
  assert.ok(updates.length > 0, "an update was sent");
  const { data, buffers } = updates[updates.length - 1];
  const state = structuredClone(data.state) as Record<string, unknown>;
  (data.buffer_paths as string[][]).forEach((p, i) => ((state as Record<string, unknown>)[p[0]] = buffers[i]));
  return state;
}

/** Run `work` with console.error captured; returns what it logged. */
function quietly(work: () => void): unknown[][] {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    work();
  } finally {
    console.error = original;
  }
  return logged;
}

function bytes(v: unknown): Uint8Array {
  const b = v as ArrayBufferView;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

test("FrameScrubber opens with encoded frames as buffers, replaces or adds rows by label", async () => {
  const { clip } = await setup;
  const comms = new FakeCommManager();
  const scrubber = await FrameScrubber.create([{ label: "source", clip }], { comms, title: "t" });
  const open = comms.opened[0];
  assert.equal(open.data.state && (open.data.state as Record<string, unknown>)._model_name, WIDGETS.frameScrubber.model);
  assert.equal((open.data.state as Record<string, unknown>)._view_module, MODULE_NAME);
  assert.deepEqual(
    open.data.buffer_paths,
    [0, 1, 2].map((f) => ["rows", 0, "clip", "frames", f]),
  );
  for (const b of open.buffers) assert.deepEqual([...bytes(b).subarray(0, 3)], [0xff, 0xd8, 0xff], "JPEG bytes");
  await scrubber.setClip("edit", clip);
  await scrubber.setClip("source", { ...clip, count: 2, frames: clip.frames.subarray(0, 2 * 128 * 128 * 3) });
  assert.deepEqual(scrubber.labels(), ["source", "edit"]);
  await scrubber.setClip("middle", clip, "edit");
  assert.deepEqual(scrubber.labels(), ["source", "middle", "edit"]);
  scrubber.removeClip("middle");
  assert.equal(scrubber.get("frame_count"), 3);
  assert.equal(scrubber.get("rows")[0].clip.frames.length, 2);
  const comm = comms.comm(scrubber.modelId);
  comm.fromFrontend({ method: "update", state: { frame: 2 }, buffer_paths: [] });
  assert.equal(scrubber.get("frame"), 2);
  assert.deepEqual(comm.sentWith("echo_update").at(-1)?.data.state, { frame: 2 });
});

test("CrossAttentionViewer: token chips, and a token or step change recomputes the heat map", async () => {
  const { model, clip, inversion } = await setup;
  const comms = new FakeCommManager();
  const viewer = await CrossAttentionViewer.create(inversion, model.tokenizer, clip, { comms });
  const tokens = viewer.get("tokens");
  assert.equal(tokens.length, inversion.tokens);
  assert.deepEqual([tokens[0], tokens[1], tokens[3], tokens.at(-1)], ["<|startoftext|>", "a", "jeep", "<|endoftext|>"]);
  const comm = comms.comm(viewer.modelId);
  comm.fromFrontend({ method: "update", state: { token: 3, average_steps: false, step: 2 }, buffer_paths: [] });
  const sent = lastUpdate(comm);
  const g = inversion.groups[viewer.get("group")];
  const expected = tokenHeatmap(
    { steps: g.steps, frames: 3, height: g.group.height, width: g.group.width, tokens: inversion.tokens },
    3,
    2,
  );
  assert.deepEqual(bytes(sent.heatmap), expected.heatmap);
  assert.equal(bytes(sent.heatmap).length, 3 * viewer.get("map_height") * viewer.get("map_width"));
  assert.equal(viewer.get("heat_max"), expected.max);
  // Each frame is scaled to its own maximum, so every frame where the token gets attention reaches 255.
  const L = viewer.get("map_height") * viewer.get("map_width");
  assert.deepEqual(viewer.get("frame_max"), expected.frameMax);
  assert.equal(Math.max(...expected.frameMax), expected.max);
  for (let f = 0; f < 3; f++)
    assert.equal(Math.max(...bytes(sent.heatmap).subarray(f * L, (f + 1) * L)), expected.frameMax[f] > 0 ? 255 : 0);
  assert.equal(viewer.get("scale"), "frame", "drawn per frame by default");
  comm.fromFrontend({ method: "update", state: { scale: "absolute" }, buffer_paths: [] });
  assert.equal(viewer.get("scale"), "absolute", "a view may pick the absolute scale");
  quietly(() => comm.fromFrontend({ method: "update", state: { scale: "loud" }, buffer_paths: [] }));
  assert.equal(viewer.get("scale"), "absolute", "and nothing else");
  assert.equal(viewer.get("mass").length, 3);
  assert.ok(expected.max > 0 && expected.max <= 1, `a probability: ${expected.max}`);
  quietly(() => comm.fromFrontend({ method: "update", state: { token: 999 }, buffer_paths: [] }));
  assert.equal(viewer.get("token"), 3, "an out-of-range token from a view is refused");
  assert.deepEqual(
    comm.sent.at(-1)?.data,
    { method: "update", state: { token: 3 }, buffer_paths: [] },
    "the view gets the kernel's token back",
  );
  viewer.update({ token: 999 });
  assert.equal(viewer.get("token"), tokens.length - 1, "an out-of-range token set by code is clamped");
});

test("MaskTuner: the preview is editVideo's blend mask, shrinks as the threshold rises, and reports unknown words", async () => {
  const { model, clip, inversion } = await setup;
  const comms = new FakeCommManager();
  const tuner = await MaskTuner.create(inversion, model, clip, { comms, blendWords: ["jeep"] });
  const comm = comms.comm(tuner.modelId);
  const [h, w] = controlledMaskSize(inversion, model);
  const mm = inversion.maskMaps!;
  const alpha = new Float32Array(77);
  alpha[3] = 1; // "jeep"
  let previous = Infinity;
  const areas: number[] = [];
  for (const th of [0.1, 0.4, 0.8]) {
    comm.fromFrontend({ method: "update", state: { threshold: th, step: 1 }, buffer_paths: [] });
    const expected = blendMask(
      { maps: mm.steps[STEPS - 2], frames: 3, height: mm.height, width: mm.width, tokens: mm.tokens },
      alpha,
      h,
      w,
      th,
    );
    assert.deepEqual([...bytes(tuner.get("mask"))], [...expected]);
    const area = tuner.get("areas").reduce((a, b) => a + b, 0);
    assert.ok(area <= previous, `area ${area} at ${th}`);
    areas.push(area);
    previous = area;
  }
  assert.ok(areas[0] > areas[2], `the threshold matters: ${areas}`);
  assert.ok(
    comm.sentWith("update").some((m) => (m.data.buffer_paths as string[][]).some((p) => p[0] === "mask")),
    "the mask travels as a buffer",
  );
  assert.ok(tuner.get("preview_ms") >= 0);
  quietly(() => comm.fromFrontend({ method: "update", state: { blend_words: ["jeep", "truck"] }, buffer_paths: [] }));
  assert.deepEqual(tuner.get("blend_words"), ["jeep"], "a view can only pick words of the source prompt");
  tuner.update({ blend_words: ["jeep", "truck"] });
  assert.match(tuner.get("error"), /blend word "truck" is not in the prompt "a silver jeep/);
  assert.throws(() => tuner.p2p(), /truck/);
  comm.fromFrontend({ method: "update", state: { blend_words: ["jeep"], self_replace_steps: [0.1, 0.6] }, buffer_paths: [] });
  assert.equal(tuner.get("error"), "");
  assert.deepEqual(tuner.p2p().selfReplaceSteps, [0.1, 0.6]);
  assert.equal(tuner.p2p().blendSelfAttention, true);
});

test("the widgets, a YAML config, the flag form and the inversion start from the engine's defaults (editOptions.ts)", async () => {
  const { model, clip, inversion } = await setup;
  // FateZero's values, pinned once here: every path below must agree with them.
  assert.deepEqual(DEFAULT_P2P.blendTh, [0.3, 0.3]);
  assert.deepEqual(DEFAULT_INFLATION, { selectors: [-1, "first"], leastScChannel: 0 });
  const inflation = { selectors: [...DEFAULT_INFLATION.selectors], leastScChannel: DEFAULT_INFLATION.leastScChannel };

  const yaml = parseFatezeroConfig(
    [
      "dataset_config: {prompt: a b}",
      "editing_config:",
      "  prompt2prompt_edit: true",
      "  guidance_scale: 7.5",
      "  num_inference_steps: 10",
      "  editing_prompts: [a b, a c]",
      "  p2p_config:",
      "    0: {cross_replace_steps: 0.8, self_replace_steps: 0.9}",
      "    1: {cross_replace_steps: 0.8, self_replace_steps: 0.9}",
    ].join("\n"),
    "defaults.yaml",
  );
  const flagForm = resolveEditPlan(
    defaultFatezeroConfig("a b"),
    { model: "tiny", video: "v", target: "a c" },
    {
      unet: model.unetConfig,
      vaeFactor: model.dims.vaeFactor,
      nativeSize: 128,
    },
  );
  for (const p2p of [yaml.edits[1].p2p, flagForm.edits[1].spec.p2p]) {
    assert.deepEqual(
      [p2p.blendTh, p2p.isReplaceController, p2p.blendSelfAttention, p2p.blendLatents],
      [DEFAULT_P2P.blendTh, DEFAULT_P2P.isReplaceController, DEFAULT_P2P.blendSelfAttention, DEFAULT_P2P.blendLatents],
    );
  }
  assert.deepEqual(yaml.model, inflation);
  assert.deepEqual(flagForm.unet, { ...inflation, lora: null });
  assert.deepEqual({ selectors: inversion.key.unet.selectors, leastScChannel: inversion.key.unet.leastScChannel }, inflation);

  const comms = new FakeCommManager();
  const tuner = await MaskTuner.create(inversion, model, clip, { comms });
  assert.equal(tuner.get("threshold"), DEFAULT_P2P.blendTh[0]);
  assert.deepEqual(tuner.p2p().blendTh, DEFAULT_P2P.blendTh);
  assert.deepEqual(tuner.get("self_replace_steps"), [0, DEFAULT_P2P.selfReplaceSteps]);
  assert.deepEqual(tuner.get("cross_replace_steps"), [0, DEFAULT_P2P.crossReplaceSteps]);
  assert.equal(tuner.get("blend_latents"), DEFAULT_P2P.blendLatents);
  const panel = EditPanel.create({ comms, sourcePrompt: "a b", prompt: "a c" });
  assert.equal(panel.get("guidance_scale"), DEFAULT_EDIT_LOOP.guidanceScale);
  assert.equal(panel.get("controller") === "replace", DEFAULT_P2P.isReplaceController);
  tuner.close();
  panel.close();
});

test("EditPanel: Run from the frontend streams progress and ends with a status; Cancel aborts", async () => {
  const comms = new FakeCommManager();
  let release: () => void = () => undefined;
  const panel = EditPanel.create({ comms, sourcePrompt: "a b", prompt: "a c" }, async (signal, progress) => {
    progress(1, 2);
    await new Promise<void>((resolve, reject) => {
      release = resolve;
      signal.addEventListener("abort", () => reject(new Error("edit cancelled")));
    });
    progress(2, 2);
    return "ok";
  });
  const comm = comms.comm(panel.modelId);
  comm.fromFrontend({ method: "custom", content: { event: "run" } });
  assert.equal(panel.get("running"), true);
  assert.deepEqual([panel.get("done"), panel.get("total")], [1, 2]);
  comm.fromFrontend({ method: "custom", content: { event: "run" } });
  release();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual([panel.get("running"), panel.get("status"), panel.get("done")], [false, "ok", 2]);
  comm.fromFrontend({ method: "custom", content: { event: "run" } });
  comm.fromFrontend({ method: "custom", content: { event: "cancel" } });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual([panel.get("running"), panel.get("status"), panel.get("error")], [false, "cancelled", ""]);
});

test("values a view may not send are refused, the view gets the kernel's value back, and a run that cannot start ends failed", async () => {
  const { model, clip, inversion } = await setup;
  const comms = new FakeCommManager();
  const studio = await EditStudio.open({ model, clip, inversion, prompt: SOURCE.replace("silver", "red"), blendWords: ["jeep"], comms });
  const before = {
    scrubber: studio.scrubber.state(),
    viewer: studio.viewer.state(),
    tuner: studio.tuner.state(),
    panel: studio.panel.state(),
  };
  const hostile: [keyof typeof before, Record<string, unknown>][] = [
    ["scrubber", { frame: -1 }],
    ["scrubber", { fps: 0, playing: "yes" }],
    ["scrubber", { frame_count: 1000 }],
    ["viewer", { step: 1.5, group: 99 }],
    ["viewer", { tokens: ["x"] }],
    ["tuner", { threshold: 2 }],
    ["tuner", { threshold: "abc", step: STEPS }],
    ["tuner", { self_replace_steps: [0.8, 0.2] }],
    ["tuner", { latent_blend_steps: [0, 1, 2] }],
    ["tuner", { mask: [] }],
    ["panel", { guidance_scale: "abc" }],
    ["panel", { controller: "swap", equalizer: [{ word: "red", value: "2" }] }],
    ["panel", { running: false, status: "done" }],
  ];
  const errors = quietly(() => {
    for (const [widget, state] of hostile) comms.comm(studio[widget].modelId).fromFrontend({ method: "update", state, buffer_paths: [] });
  });
  assert.equal(
    errors.length,
    hostile.reduce((n, [, state]) => n + Object.keys(state).length, 0),
    "each refused key is logged",
  );
  assert.match(String(errors[0][0]), /refused frame = -1 from the frontend: Too small/);
  for (const widget of Object.keys(before) as (keyof typeof before)[]) assert.deepEqual(studio[widget].state(), before[widget], widget);
  const panelComm = comms.comm(studio.panel.modelId);
  assert.deepEqual(panelComm.sentWith("update").at(-1)?.data.state, { running: false, status: "ready" });
  assert.equal(panelComm.sentWith("echo_update").length, 0, "nothing refused is echoed");

  comms.comm(studio.tuner.modelId).fromFrontend({ method: "update", state: { threshold: 0.6 }, buffer_paths: [] });
  assert.equal(studio.tuner.get("threshold"), 0.6, "a valid value is still taken");

  studio.tuner.update({ blend_words: ["truck"] }); // the tuner now reports an error, which spec() throws
  panelComm.fromFrontend({ method: "custom", content: { event: "run" } });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual([studio.panel.get("running"), studio.panel.get("status")], [false, "failed"]);
  assert.match(studio.panel.get("error"), /blend word "truck" is not in the prompt/);
  studio.close();
});

test("EditStudio: Run re-runs only the editing loop on the cached inversion and shows the edit", async () => {
  const { model, clip, inversion } = await setup;
  const comms = new FakeCommManager();
  const prompt = "a silver car driving down a curvy road in the countryside";
  const studio = await EditStudio.open({ model, clip, inversion, prompt, blendWords: ["jeep"], threshold: 0.4, comms });
  assert.equal(comms.opened.length, 4);
  studio.tuner.update({ self_replace_steps: [0, 0.5] });
  studio.panel.update({ equalizer: [{ word: "car", value: 2 }] });
  const spec = studio.spec();
  assert.deepEqual(spec.p2p.blendWords, [["jeep"], ["car"]]);
  assert.deepEqual(spec.p2p.eqParams, { words: ["car"], values: [2] });
  assert.deepEqual(spec.p2p.blendTh, [0.4, 0.4]);
  comms.comm(studio.panel.modelId).fromFrontend({ method: "custom", content: { event: "run" } });
  const edited = await studio.run().catch(() => undefined);
  assert.equal(edited, undefined, "a second run while one is in progress is refused");
  while (studio.panel.running) await new Promise((r) => setTimeout(r, 20));
  assert.equal(studio.panel.get("error"), "");
  assert.deepEqual(studio.scrubber.labels(), ["source", "edit"]);
  assert.deepEqual([studio.panel.get("done"), studio.panel.get("total")], [STEPS, STEPS]);
  const direct = await editVideo(model, inversion, spec);
  const frames = await decodeLatents(model, direct.latents);
  assert.deepEqual(studio.results.get("edit")!.frames, frames, "the same edit as editVideo with the studio's spec");
  assert.deepEqual(Object.keys(studio.timer.seconds), ["edit", "decode", "show"]);
  const reconstruction = await studio.reconstruct();
  assert.deepEqual(studio.scrubber.labels(), ["source", "reconstruction", "edit"]);
  const sourceSpec = { ...spec, prompt: spec.sourcePrompt, p2p: { ...spec.p2p, blendWords: [["jeep"], ["jeep"]] as [string[], string[]] } };
  delete sourceSpec.p2p.eqParams; // "car" is not in the source prompt
  assert.deepEqual(studio.spec(SOURCE), sourceSpec);
  const directReconstruction = await editVideo(model, inversion, sourceSpec);
  assert.deepEqual(reconstruction.frames, await decodeLatents(model, directReconstruction.latents), "the edit towards the source prompt");
  studio.close();
  assert.ok(studio.panel.closed && studio.scrubber.closed);
});

test("targetBlendWords: the words the edit introduces, else the kept source words", () => {
  assert.deepEqual(targetBlendWords("a silver jeep on a road", "a red car on a road", ["jeep"]), ["red", "car"]);
  assert.deepEqual(targetBlendWords("a silver jeep on a road", "a jeep on a road", ["jeep"]), ["jeep"]);
});
