import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { type ControllerTensors, controllerTensors, fusionInputs } from "../src/fatezero/controllerTensors";
import { refinementMapper, replacementMapper } from "../src/fatezero/seqAligner";
import { CLIP_TOKENS } from "../src/tokenizer/clipTokenizer";
import { type CrossReplaceSteps, DEFAULT_P2P, type EditSpec, type P2pOptions } from "../src/fatezero/editOptions";
import { crossStepRanges, selfStepRange } from "../src/fatezero/stepWindows";
import { Fixture } from "../src/reference/fixture";
import { ClipTokenizer } from "../src/tokenizer/clipTokenizer";

// Tests run from the project root; the shared data sits beside it.
const PUBLIC = path.resolve(process.cwd(), "../shared/reference/public");
const fixture = new Fixture(PUBLIC);
const tokenizer = ClipTokenizer.fromFolder(path.join(PUBLIC, "model/tokenizer"));

const JEEP = "a silver jeep driving down a curvy road in the countryside";
const WATERCOLOR = "watercolor painting of a silver jeep driving down a curvy road in the countryside";

// refs.json `runs.<run>.edits[k]`: the edit as the reference generator ran it.
interface RefEdit {
  prompt: string;
  source_prompt: string;
  p2p_config: {
    is_replace_controller?: boolean;
    cross_replace_steps: CrossReplaceSteps;
    self_replace_steps: number | [number, number];
    blend_words?: [string[], string[]];
    blend_th?: [number, number];
    blend_self_attention?: boolean;
    blend_latents?: boolean;
    eq_params?: { words: string[]; values: number[] };
  };
  controller_class: string;
  prev_controller_class: string;
  num_self_replace: [number, number];
  cross_replace_steps_active: number[];
  attention_blend: boolean;
  latent_blend: boolean;
}

function refEdits(run: string): RefEdit[] {
  return fixture.get(`runs.${run}.edits`) as RefEdit[];
}

function refSteps(run: string): number {
  return fixture.get(`runs.${run}.fatezero_config.editing_config.num_inference_steps`) as number;
}

function specOf(edit: RefEdit): EditSpec {
  const c = edit.p2p_config;
  const p2p: P2pOptions = {
    isReplaceController: c.is_replace_controller ?? false,
    crossReplaceSteps: c.cross_replace_steps,
    selfReplaceSteps: c.self_replace_steps,
    blendTh: c.blend_th ?? DEFAULT_P2P.blendTh,
    blendSelfAttention: c.blend_self_attention ?? false,
    blendLatents: c.blend_latents ?? false,
    ...(c.blend_words ? { blendWords: c.blend_words } : {}),
    ...(c.eq_params ? { eqParams: c.eq_params } : {}),
  };
  return { prompt: edit.prompt, sourcePrompt: edit.source_prompt, p2p };
}

function spec(prompt: string, sourcePrompt: string, p2p: Partial<P2pOptions> = {}): EditSpec {
  return { prompt, sourcePrompt, p2p: { ...DEFAULT_P2P, ...p2p } };
}

const has = (name: string): boolean => fixture.names().includes(name);
const ref = (name: string): number[] => Array.from(fixture.read(name));
const column = (alpha: Float32Array, token: number): number[] =>
  Array.from({ length: alpha.length / CLIP_TOKENS }, (_, r) => alpha[r * CLIP_TOKENS + token]);

for (const run of ["style", "shape"]) {
  refEdits(run).forEach((edit, k) => {
    test(`${run} edit ${k}: controller tensors equal the reference exactly`, () => {
      const prefix = `${run}.edit${k}.controller.`;
      const steps = refSteps(run);
      // FateZero ignores words a prompt lacks; its own configs rely on that (shape edit 0).
      const t = controllerTensors(specOf(edit), steps, tokenizer, { missingWords: "ignore" });
      const base = edit.controller_class === "AttentionReweight" ? edit.prev_controller_class : edit.controller_class;
      assert.equal(t.kind, base === "AttentionReplace" ? "replace" : "refine");
      assert.deepEqual(Array.from(t.crossReplaceAlpha), ref(`${prefix}cross_replace_alpha`));
      assert.equal(t.crossReplaceAlpha.length, (steps + 1) * CLIP_TOKENS);
      if (t.kind === "refine") {
        assert.deepEqual(Array.from(t.refineMapper ?? []), ref(`${prefix}refine_mapper`));
        assert.deepEqual(Array.from(t.refineAlphas ?? []), ref(`${prefix}refine_alphas`));
        assert.equal(t.replaceMapper, undefined);
      } else {
        assert.deepEqual(Array.from(t.replaceMapper ?? []), ref(`${prefix}replace_mapper`));
        assert.equal(t.refineMapper, undefined);
      }
      const eq = has(`${prefix}equalizer`) ? ref(`${prefix}equalizer`) : new Array(CLIP_TOKENS).fill(1);
      assert.deepEqual(Array.from(t.equalizer), eq);
      if (has(`${prefix}blend_alpha_layers`)) {
        assert.deepEqual(Array.from(t.blendAlphaLayers ?? []), ref(`${prefix}blend_alpha_layers`));
      } else {
        assert.equal(t.blendAlphaLayers, undefined);
      }
      assert.deepEqual(t.selfReplace, edit.num_self_replace);
      assert.equal(t.attentionBlend, edit.attention_blend);
      assert.equal(t.latentBlend, edit.latent_blend);
      const active = Array.from({ length: steps }, (_, s) => s).filter((s) =>
        t.crossReplaceAlpha.subarray(s * CLIP_TOKENS, (s + 1) * CLIP_TOKENS).some((a) => a === 1),
      );
      assert.deepEqual(active, edit.cross_replace_steps_active);
    });
  });
}

test("shape edit 0 carries words its reconstruction prompt lacks: listed with ignore, an error by default", () => {
  const edit = refEdits("shape")[0];
  const t = controllerTensors(specOf(edit), refSteps("shape"), tokenizer, { missingWords: "ignore" });
  assert.deepEqual(t.ignoredWords.map((w) => `${w.use}:${w.word}`).sort(), [
    "blend-target:car",
    "equalizer:painting",
    "equalizer:watercolor",
  ]);
  assert.ok(t.ignoredWords.every((w) => w.prompt === JEEP));
  assert.throws(
    () => controllerTensors(specOf(edit), refSteps("shape"), tokenizer),
    (e: Error) => e.message.includes('"car"') && e.message.includes(JSON.stringify(JEEP)) && e.message.startsWith("blend-target"),
  );
});

test("the other reference edits pass strict word checking", () => {
  for (const [run, k] of [
    ["style", 0],
    ["style", 1],
    ["shape", 1],
  ] as const) {
    const t = controllerTensors(specOf(refEdits(run)[k]), refSteps(run), tokenizer);
    assert.deepEqual(t.ignoredWords, []);
  }
});

// Expected values below come from running FateZero's seq_aligner.py on these prompts' token ids.
test("refinement mapper: insertions, deletions and repeated tokens resolve ties as global_align", () => {
  const cases: [string, string, number[], number[]][] = [
    ["a cat sitting on a mat", "a dog sitting on a red mat", [0, 1, -1, 3, 4, 5, -1, 6, 7, 9, 10], [1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1]],
    ["a red car and a red bike", "a car and a bike red", [0, 1, 3, 4, 5, 7, -1, 8, 8, 9], [1, 1, 1, 1, 1, 1, 0, 1, 1, 1]],
    ["the the the", "the", [0, 1, 4, 3, 4], [1, 1, 1, 1, 1]],
    ["the", "the the the", [0, 1, -1, -1, 2, 5, 6], [1, 1, 0, 0, 1, 1, 1]],
  ];
  for (const [source, target, mapper, alphas] of cases) {
    const r = refinementMapper(source, target, tokenizer);
    assert.equal(r.mapper.length, CLIP_TOKENS);
    assert.deepEqual(Array.from(r.mapper.subarray(0, mapper.length)), mapper, `${source} → ${target}`);
    assert.deepEqual(Array.from(r.alphas.subarray(0, alphas.length)), alphas, `${source} → ${target}`);
    assert.equal(r.mapper[CLIP_TOKENS - 1], CLIP_TOKENS - 1);
    assert.equal(r.alphas[CLIP_TOKENS - 1], 1);
  }
});

test("refinement mapper: prompts past the context are refused", () => {
  const long = Array.from({ length: 80 }, () => "cat").join(" ");
  assert.throws(() => refinementMapper(JEEP, long, tokenizer), /has 80 tokens, more than the 75/);
});

// The entries of a [77, 77] mapper that differ from the identity, as [source, target, value], row-major.
function offIdentity(m: Float32Array): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < CLIP_TOKENS; i++) {
    for (let j = 0; j < CLIP_TOKENS; j++) {
      const v = m[i * CLIP_TOKENS + j];
      if (v !== (i === j ? 1 : 0)) out.push([i, j, v]);
    }
  }
  return out;
}

test("replacement mapper: differing token counts spread 1/len, and the tail stays on the target diagonal", () => {
  // "jeep" is 1 token, "bulldozer" 2: spread 1/2; afterwards target "on" (4) reads source "the" (4).
  const a = replacementMapper("a jeep on the road", "a bulldozer on the road", tokenizer);
  assert.deepEqual(offIdentity(a), [
    [2, 2, 0.5],
    [2, 3, 0.5],
    [3, 3, 0],
  ]);
  const b = replacementMapper("a bulldozer on the road by a tree", "a jeep on the road by a bush", tokenizer);
  // Both "bulldozer" tokens map to "jeep" with weight 1/1 (not normalised). Target EOT (9) reads source token 9 ("tree"), not the source EOT (10), and the loop stops when the
  // source index reaches 77, leaving target token 76 unmapped: FateZero's tail quirks.
  assert.deepEqual(offIdentity(b), [
    [3, 2, 1],
    [3, 3, 0],
    [4, 3, 1],
    [4, 4, 0],
    [5, 4, 1],
    [5, 5, 0],
    [6, 5, 1],
    [6, 6, 0],
    [7, 6, 1],
    [7, 7, 0],
    [8, 7, 1],
    [8, 8, 0],
    [9, 8, 1],
    [76, 76, 0],
  ]);
  assert.equal(b[9 * CLIP_TOKENS + 9], 1);
  assert.equal(b[10 * CLIP_TOKENS + 9], 0);
  const c = replacementMapper("a jeep on the road", "a supercalifragilistic jeep on road", tokenizer);
  const fifth = Math.fround(0.2);
  assert.deepEqual(offIdentity(c), [
    [2, 2, fifth],
    [2, 3, fifth],
    [2, 4, fifth],
    [2, 5, fifth],
    [2, 6, fifth],
    [3, 3, 0],
    [3, 7, 1],
    [4, 4, 0],
    [4, 8, 1],
    [5, 5, 0],
    [6, 6, 0],
    [7, 7, 0],
    [8, 8, 0],
  ]);
});

test("replacement mapper: different word counts are an error naming both prompts", () => {
  assert.throws(
    () => replacementMapper(JEEP, WATERCOLOR, tokenizer),
    (e: Error) =>
      e.message.includes(JSON.stringify(JEEP)) && e.message.includes(JSON.stringify(WATERCOLOR)) && /11 words .* 14$/.test(e.message),
  );
});

test("replace controller falls back to refine when the word counts differ", () => {
  const t = controllerTensors(spec(WATERCOLOR, JEEP, { isReplaceController: true }), 10, tokenizer);
  assert.equal(t.kind, "refine");
  assert.ok(t.refineMapper && t.refineAlphas && !t.replaceMapper);
  const swap = spec("a silver car driving down a curvy road in the countryside", JEEP, { isReplaceController: true });
  const same = controllerTensors(swap, 10, tokenizer);
  assert.equal(same.kind, "replace");
});

// Expected columns from FateZero's ptp_utils.get_time_words_attention_alpha on these prompts.
test("cross-replace steps: per-word windows on the target prompt's tokens, default_ elsewhere", () => {
  const source = "a silver jeep on the road";
  const target = "watercolor painting of a silver jeep on the road";
  const crossReplaceSteps = { default_: 0.8, watercolor: [0.2, 0.5] as [number, number], jeep: 0.3, silver: 0.1 };
  const t = controllerTensors(spec(target, source, { crossReplaceSteps }), 10, tokenizer);
  const dflt = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
  assert.deepEqual(column(t.crossReplaceAlpha, 0), dflt);
  assert.deepEqual(column(t.crossReplaceAlpha, 1), [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(column(t.crossReplaceAlpha, 5), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(column(t.crossReplaceAlpha, 6), [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(column(t.crossReplaceAlpha, 76), dflt);
  // Without "default_" every other token is fused at every step, row N included.
  const noDefault = controllerTensors(spec(target, source, { crossReplaceSteps: { jeep: [0.5, 1] } }), 10, tokenizer);
  assert.deepEqual(column(noDefault.crossReplaceAlpha, 6), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(column(noDefault.crossReplaceAlpha, 7), new Array(11).fill(1));
  // A pair applies to all tokens.
  const pair = controllerTensors(spec(target, source, { crossReplaceSteps: [0.2, 0.5] }), 10, tokenizer);
  assert.deepEqual(column(pair.crossReplaceAlpha, 40), [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
});

test("the dry-run plan's step ranges are the steps the controller's tensors fuse (one window rule, stepWindows.ts)", () => {
  const source = "a silver jeep on the road";
  const target = "watercolor painting of a silver jeep on the road";
  const windows: [number, number][] = [
    [0, 0.8],
    [0.2, 0.5],
    [0.35, 0.35],
    [0, 1],
    [0.1, 0.95],
  ];
  for (const steps of [1, 7, 10, 50]) {
    for (const [w, window] of windows.entries()) {
      const crossReplaceSteps = { default_: window, jeep: windows[(w + 1) % windows.length] };
      const t = controllerTensors(spec(target, source, { crossReplaceSteps, selfReplaceSteps: window }), steps, tokenizer);
      const fused = (token: number) => column(t.crossReplaceAlpha, token).slice(0, steps); // the rows edit steps read
      const inRange = (r: { start: number; end: number }) => Array.from({ length: steps }, (_, i) => (i >= r.start && i < r.end ? 1 : 0));
      const planned = crossStepRanges(crossReplaceSteps, steps);
      assert.deepEqual(fused(0), inRange(planned.all), `default_ ${window} over ${steps} steps`);
      assert.deepEqual(fused(6), inRange(planned.words[0].steps), `jeep over ${steps} steps`);
      const self = selfStepRange(window, steps);
      assert.deepEqual(t.selfReplace, [self.start, self.end], `self ${window} over ${steps} steps`);
    }
  }
});

test("cross-replace steps: only the target prompt is searched for the words", () => {
  const target = "a red car";
  const words = { crossReplaceSteps: { default_: 0.8, jeep: 0.2 } };
  assert.throws(
    () => controllerTensors(spec(target, "a silver jeep", words), 10, tokenizer),
    /^Error: cross-replace word "jeep" is not in the prompt "a red car"/,
  );
  const t = controllerTensors(spec(target, "a silver jeep", words), 10, tokenizer, { missingWords: "ignore" });
  assert.deepEqual(t.ignoredWords, [{ word: "jeep", prompt: target, use: "cross-replace" }]);
});

test("equalizer reweights the target prompt's tokens", () => {
  const t = controllerTensors(spec(WATERCOLOR, JEEP, { eqParams: { words: ["watercolor", "jeep"], values: [10, 0.5] } }), 10, tokenizer);
  const expected = new Array(CLIP_TOKENS).fill(1);
  expected[1] = 10;
  expected[6] = 0.5;
  assert.deepEqual(Array.from(t.equalizer), expected);
});

test("self-replace window: int(N·s) with a bare fraction meaning (0, s)", () => {
  assert.deepEqual(controllerTensors(spec(JEEP, JEEP, { selfReplaceSteps: 0.9 }), 10, tokenizer).selfReplace, [0, 9]);
  assert.deepEqual(controllerTensors(spec(JEEP, JEEP, { selfReplaceSteps: [0.25, 0.75] }), 10, tokenizer).selfReplace, [2, 7]);
  assert.deepEqual(controllerTensors(spec(JEEP, JEEP, { selfReplaceSteps: 0.5 }), 7, tokenizer).selfReplace, [0, 3]);
});

test("blend flags need blend words", () => {
  const blend: Partial<P2pOptions> = { blendWords: [["jeep"], ["jeep"]], blendSelfAttention: true, blendLatents: true };
  const withWords = controllerTensors(spec(JEEP, JEEP, blend), 10, tokenizer);
  assert.equal(withWords.attentionBlend, true);
  assert.equal(withWords.latentBlend, true);
  const without = controllerTensors(spec(JEEP, JEEP, { blendSelfAttention: true, blendLatents: true }), 10, tokenizer);
  assert.equal(without.attentionBlend, false);
  assert.equal(without.latentBlend, false);
  assert.equal(without.blendAlphaLayers, undefined);
});

test("invalid controls are clear errors", () => {
  const check = (p2p: Partial<P2pOptions>, pattern: RegExp, prompt = JEEP): void => {
    assert.throws(() => controllerTensors(spec(prompt, JEEP, p2p), 10, tokenizer), pattern);
  };
  check({ blendWords: [["Jeep"], ["jeep"]] }, /^Error: blend-source word "Jeep" is not in the prompt "a silver jeep driving down/);
  check({ blendWords: [["jeep"], ["car"]] }, /^Error: blend-target word "car" is not in the prompt/);
  check(
    { eqParams: { words: ["watercolour"], values: [10] } },
    /^Error: equalizer word "watercolour" is not in the prompt "watercolor painting/,
    WATERCOLOR,
  );
  check({ eqParams: { words: ["watercolor", "painting"], values: [10] } }, /eqParams needs one value per word/, WATERCOLOR);
  check({ crossReplaceSteps: 1.2 }, /crossReplaceSteps "default_" must satisfy 0 <= start <= end <= 1, got 1.2/);
  check({ crossReplaceSteps: { default_: 0.8, jeep: [-0.1, 0.5] } }, /crossReplaceSteps\["jeep"\] must satisfy/);
  check({ selfReplaceSteps: [0.6, 0.2] }, /selfReplaceSteps must satisfy/);
  check({ selfReplaceSteps: Number.NaN }, /selfReplaceSteps must be a fraction/);
  assert.throws(() => controllerTensors(spec(JEEP, JEEP), 0, tokenizer), /steps must be a positive integer/);
});

// Deterministic uniform numbers for the fusion property (mulberry32).
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// P' = α ⊙ ((P_src @ M) ⊙ b + P_edit ⊙ (1 − b)) ⊙ eq + (1 − α) ⊙ P_edit for `rows` query rows.
function fusedUnified(t: ControllerTensors, src: Float64Array, edit: Float64Array, rows: number, step: number): Float64Array {
  const { crossMatrix, crossBlend } = fusionInputs(t);
  const out = new Float64Array(rows * CLIP_TOKENS);
  for (let q = 0; q < rows; q++) {
    for (let n = 0; n < CLIP_TOKENS; n++) {
      let mapped = 0;
      for (let w = 0; w < CLIP_TOKENS; w++) mapped += src[q * CLIP_TOKENS + w] * crossMatrix[w * CLIP_TOKENS + n];
      const e = edit[q * CLIP_TOKENS + n];
      const a = t.crossReplaceAlpha[step * CLIP_TOKENS + n];
      out[q * CLIP_TOKENS + n] = a * (mapped * crossBlend[n] + e * (1 - crossBlend[n])) * t.equalizer[n] + (1 - a) * e;
    }
  }
  return out;
}

// AttentionRefine / AttentionReplace (+ AttentionReweight) as FateZero writes them.
function fusedDirect(t: ControllerTensors, src: Float64Array, edit: Float64Array, rows: number, step: number): Float64Array {
  const out = new Float64Array(rows * CLIP_TOKENS);
  for (let q = 0; q < rows; q++) {
    for (let n = 0; n < CLIP_TOKENS; n++) {
      const e = edit[q * CLIP_TOKENS + n];
      let r: number;
      if (t.kind === "refine") {
        const mapper = t.refineMapper as Int32Array;
        const alphas = t.refineAlphas as Float32Array;
        const col = mapper[n] < 0 ? CLIP_TOKENS + mapper[n] : mapper[n];
        r = src[q * CLIP_TOKENS + col] * alphas[n] + e * (1 - alphas[n]);
      } else {
        const m = t.replaceMapper as Float32Array;
        r = 0;
        for (let w = 0; w < CLIP_TOKENS; w++) r += src[q * CLIP_TOKENS + w] * m[w * CLIP_TOKENS + n];
      }
      const a = t.crossReplaceAlpha[step * CLIP_TOKENS + n];
      out[q * CLIP_TOKENS + n] = r * t.equalizer[n] * a + (1 - a) * e;
    }
  }
  return out;
}

test("fusion inputs: the unified cross formula equals the direct refine and replace formulas", () => {
  const next = random(7);
  const rows = 6;
  const maps = (): Float64Array => Float64Array.from({ length: rows * CLIP_TOKENS }, next);
  const edits: EditSpec[] = [
    spec(WATERCOLOR, JEEP, { eqParams: { words: ["watercolor"], values: [10] }, crossReplaceSteps: { default_: 0.8, jeep: [0.3, 0.6] } }),
    spec("a bulldozer on the road by a tree", "a jeep on the road by a bush", {
      isReplaceController: true,
      eqParams: { words: ["bulldozer"], values: [3] },
    }),
    spec("a supercalifragilistic jeep on road", "a jeep on the road", { isReplaceController: true }),
    spec("a car and a bike red", "a red car and a red bike"),
  ];
  for (const s of edits) {
    const t = controllerTensors(s, 10, tokenizer);
    for (const step of [0, 3, 5, 9]) {
      const src = maps();
      const edit = maps();
      const direct = fusedDirect(t, src, edit, rows, step);
      const unified = fusedUnified(t, src, edit, rows, step);
      direct.forEach((d, i) => assert.ok(Math.abs(d - unified[i]) <= 1e-12, `${s.prompt} step ${step} at ${i}: ${d} vs ${unified[i]}`));
    }
  }
  const refine = fusionInputs(controllerTensors(edits[0], 10, tokenizer));
  assert.equal(refine.crossMatrix[(CLIP_TOKENS - 1) * CLIP_TOKENS + 1], 1, "inserted token reads column 76 (torch index −1)");
  assert.equal(refine.crossBlend[1], 0);
});
