// DDIM scheduler: the noise schedule and timesteps against the reference fixture, the step formulas
// against hand-computed values, the exactness of DDIM inversion, and the error messages.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SafetensorsFile } from "../src/checkpoint/safetensors";
import { DdimScheduler, DiffusersSchedulerJson } from "../src/scheduler/ddim";
import { fmaF32, linspaceF32 } from "../src/scheduler/torch-float32";

// Tests run from the project root; the shared reference fixture sits beside it.
const REF_DIR = path.resolve(process.cwd(), "../shared/reference/public");
const REFS = path.join(REF_DIR, "refs.safetensors");
const SCHEDULER_JSON = path.join(REF_DIR, "model/scheduler/scheduler_config.json");

/** SD 1.x settings, as in the fixture's scheduler_config.json. */
const SD_CONFIG: DiffusersSchedulerJson = {
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: "epsilon",
  set_alpha_to_one: false,
  steps_offset: 1,
};

/** Deterministic values in [-amp, amp) (mulberry32), so failures reproduce. */
function randomArray(n: number, seed: number, amp: number): Float32Array {
  const out = new Float32Array(n); // shape [n]
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), 1 | s);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    out[i] = ((((r ^ (r >>> 14)) >>> 0) / 2 ** 32) * 2 - 1) * amp;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("alphas_cumprod matches the reference bit for bit", () => {
  const ref = SafetensorsFile.open(REFS).readFloat32("scheduler.alphas_cumprod");
  const s = DdimScheduler.fromConfigFile(SCHEDULER_JSON);
  assert.equal(s.alphasCumprod.length, 1000);
  assert.equal(maxAbsDiff(s.alphasCumprod, ref), 0);
});

test("timesteps match the reference", () => {
  const ref = Array.from(SafetensorsFile.open(REFS).readInt64("scheduler.timesteps"), Number);
  const s = DdimScheduler.fromConfigFile(SCHEDULER_JSON);
  assert.deepEqual(s.setTimesteps(10), ref);
  assert.deepEqual(s.timesteps, ref);
  assert.deepEqual(s.inversionTimesteps(), [1, 101, 201, 301, 401, 501, 601, 701, 801, 901]);
  assert.equal(s.stepRatio, 100);
});

test("finalAlphaCumprod equals refs.json and alphas_cumprod[0]", () => {
  const refs = JSON.parse(fs.readFileSync(path.join(REF_DIR, "refs.json"), "utf8")) as {
    scheduler: { final_alpha_cumprod: number };
  };
  const s = DdimScheduler.fromConfigFile(SCHEDULER_JSON);
  assert.equal(s.finalAlphaCumprod, refs.scheduler.final_alpha_cumprod);
  assert.equal(s.finalAlphaCumprod, s.alphasCumprod[0]);
  assert.equal(new DdimScheduler({ ...SD_CONFIG, set_alpha_to_one: true }).finalAlphaCumprod, 1);
});

test("a plain config object gives the same schedule as the file", () => {
  const fromFile = DdimScheduler.fromConfigFile(SCHEDULER_JSON);
  const fromObject = new DdimScheduler(SD_CONFIG);
  assert.deepEqual(fromObject.config, fromFile.config);
  assert.equal(maxAbsDiff(fromObject.alphasCumprod, fromFile.alphasCumprod), 0);
});

test("a single step equals the DDIM formula evaluated in double precision", () => {
  const s = new DdimScheduler(SD_CONFIG);
  s.setTimesteps(10);
  const x = randomArray(2 * 4 * 3 * 5, 1, 2); // shape [F=2,4,3,5]
  const eps = randomArray(x.length, 2, 1.5);
  for (const t of [901, 501, 1]) {
    const aT = s.alphasCumprod[t];
    const aPrev = t - 100 >= 0 ? s.alphasCumprod[t - 100] : s.finalAlphaCumprod;
    const expected = Array.from(x, (xi, i) => {
      const x0 = (xi - Math.sqrt(1 - aT) * eps[i]) / Math.sqrt(aT);
      return Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev) * eps[i];
    });
    assert.ok(maxAbsDiff(s.step(eps, t, x), expected) < 5e-6, `t=${t}`);
  }
});

test("a hand-computed step on a tiny schedule", () => {
  // alphas_cumprod = 0.5, 0.25, 0.125, 0.0625; two steps: timesteps 2, 0.
  const s = new DdimScheduler({ num_train_timesteps: 4, trained_betas: [0.5, 0.5, 0.5, 0.5], set_alpha_to_one: false, clip_sample: false });
  assert.deepEqual(Array.from(s.alphasCumprod), [0.5, 0.25, 0.125, 0.0625]);
  assert.deepEqual(s.setTimesteps(2), [2, 0]);
  // x0 = (1 - sqrt(0.875)) / sqrt(0.125) = 0.1826758; x_prev = sqrt(0.5) * x0 + sqrt(0.5) * 1 = 0.8362781.
  const [v] = s.step(Float32Array.of(1), 2, Float32Array.of(1));
  assert.ok(Math.abs(v - 0.8362781) < 1e-6, String(v));
  // Without noise, x_prev = sqrt(0.5 / 0.125) * x = 2x.
  assert.ok(Math.abs(s.step(Float32Array.of(0), 2, Float32Array.of(1))[0] - 2) < 1e-6);
  // The last step goes from alphas_cumprod[0] to finalAlphaCumprod = alphas_cumprod[0]: the identity.
  assert.ok(Math.abs(s.step(Float32Array.of(0.3), 0, Float32Array.of(0.7))[0] - 0.7) < 1e-6);
});

test("invertStep matches FateZero's next_clean2noise_step in double precision", () => {
  const s = new DdimScheduler(SD_CONFIG);
  s.setTimesteps(10);
  const x = randomArray(64, 3, 2);
  const eps = randomArray(64, 4, 1);
  for (const t of [1, 401, 901]) {
    const aT = t - 100 >= 0 ? s.alphasCumprod[t - 100] : s.finalAlphaCumprod;
    const aNext = s.alphasCumprod[t];
    const expected = Array.from(x, (xi, i) => {
      const x0 = (xi - Math.sqrt(1 - aT) * eps[i]) / Math.sqrt(aT);
      return Math.sqrt(aNext) * x0 + Math.sqrt(1 - aNext) * eps[i];
    });
    assert.ok(maxAbsDiff(s.invertStep(eps, t, x), expected) < 5e-6, `t=${t}`);
  }
});

test("DDIM inversion followed by DDIM sampling with a constant eps returns the input", () => {
  const s = new DdimScheduler(SD_CONFIG);
  s.setTimesteps(10);
  const x0 = randomArray(4 * 4 * 8 * 8, 5, 2); // shape [F=4,4,8,8]
  const eps = randomArray(x0.length, 6, 1);
  for (const t of s.inversionTimesteps()) {
    assert.ok(maxAbsDiff(s.step(eps, t, s.invertStep(eps, t, x0)), x0) < 1e-5, `single step t=${t}`);
  }
  let x = x0;
  for (const t of s.inversionTimesteps()) x = s.invertStep(eps, t, x);
  for (const t of s.timesteps) x = s.step(eps, t, x);
  assert.ok(maxAbsDiff(x, x0) < 1e-5);
});

test("steps_offset shifts the timesteps and the last step uses the final alpha", () => {
  const s0 = new DdimScheduler({ ...SD_CONFIG, steps_offset: 0 });
  const s1 = new DdimScheduler(SD_CONFIG);
  assert.deepEqual(s0.setTimesteps(10), [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
  assert.deepEqual(s1.setTimesteps(10), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  assert.deepEqual(s0.inversionTimesteps(), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  // Offset 0, final alpha = alphas_cumprod[0]: the last step from t = 0 changes nothing.
  const x = randomArray(16, 7, 1);
  assert.ok(maxAbsDiff(s0.step(randomArray(16, 8, 1), 0, x), x) < 1e-6);
  assert.ok(maxAbsDiff(s0.invertStep(randomArray(16, 8, 1), 0, x), x) < 1e-6);
  assert.deepEqual(new DdimScheduler({ ...SD_CONFIG, steps_offset: 0 }).setTimesteps(3), [666, 333, 0]);
});

test("v_prediction and sample predictions follow diffusers 0.11.1", () => {
  const eps = randomArray(32, 9, 1);
  const x0 = randomArray(32, 10, 1);
  const t = 501;
  const base = new DdimScheduler(SD_CONFIG);
  base.setTimesteps(10);
  const a = base.alphasCumprod[t];
  const aPrev = base.alphasCumprod[t - 100];
  const xt = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
  const vel = x0.map((v, i) => Math.sqrt(a) * eps[i] - Math.sqrt(1 - a) * v);
  const v = new DdimScheduler({ ...SD_CONFIG, prediction_type: "v_prediction" });
  v.setTimesteps(10);
  assert.ok(maxAbsDiff(v.step(vel, t, xt), base.step(eps, t, xt)) < 1e-5);
  const sample = new DdimScheduler({ ...SD_CONFIG, prediction_type: "sample" });
  sample.setTimesteps(10);
  // diffusers 0.11.1 uses the model output itself in the direction term for `sample`.
  const expected = Array.from(x0, (p) => (Math.sqrt(aPrev) + Math.sqrt(1 - aPrev)) * p);
  assert.ok(maxAbsDiff(sample.step(x0, t, xt), expected) < 1e-6);
  assert.equal(new DdimScheduler({ predict_epsilon: false }).config.predictionType, "sample");
});

test("clip_sample clamps the predicted clean sample to [-1, 1]", () => {
  const s = new DdimScheduler({ ...SD_CONFIG, clip_sample: true });
  s.setTimesteps(10);
  const aPrev = s.alphasCumprod[401];
  // eps = 0 at t = 501 predicts x0 = x / sqrt(a_t), far above 1 for x = 5.
  const [v] = s.step(Float32Array.of(0), 501, Float32Array.of(5));
  assert.ok(Math.abs(v - Math.sqrt(aPrev)) < 1e-6, String(v));
});

test("beta schedules: linear, scaled_linear, squaredcos_cap_v2, trained_betas", () => {
  const lin = new DdimScheduler({ beta_start: 0.0001, beta_end: 0.02 });
  assert.equal(lin.betas[0], Math.fround(0.0001));
  assert.equal(lin.betas[999], Math.fround(0.02));
  assert.ok(Math.abs(lin.betas[500] - (0.0001 + (0.0199 * 500) / 999)) < 1e-9);
  const sd = new DdimScheduler(SD_CONFIG);
  assert.ok(Math.abs(sd.betas[0] - 0.00085) < 1e-9 && Math.abs(sd.betas[999] - 0.012) < 1e-9);
  const cos = new DdimScheduler({ beta_schedule: "squaredcos_cap_v2" });
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  for (const i of [0, 10, 500, 998, 999]) {
    const expected = Math.min(1 - alphaBar((i + 1) / 1000) / alphaBar(i / 1000), 0.999);
    assert.ok(Math.abs(cos.betas[i] - expected) <= Math.abs(expected) * 1e-7, `i=${i}`);
  }
  assert.equal(cos.betas[999], Math.fround(0.999));
  const trained = new DdimScheduler({ num_train_timesteps: 3, trained_betas: [0.1, 0.2, 0.3], beta_schedule: "linear" });
  assert.deepEqual(Array.from(trained.betas), [0.1, 0.2, 0.3].map(Math.fround));
});

test("float32 helpers reproduce torch's fused, correctly rounded arithmetic", () => {
  // 1 + 2^-23 + (2^-24 - 2^-70): rounding the double sum would hit a tie and round up to 1 + 2^-22.
  const a = 1 + 2 ** -23;
  const b = 2 ** -24 * (1 - 2 ** -23);
  assert.equal(Math.fround(a * b + a), 1 + 2 ** -22);
  assert.equal(fmaF32(a, b, a), 1 + 2 ** -23);
  assert.deepEqual(Array.from(linspaceF32(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(Array.from(linspaceF32(3, 7, 1)), [3]);
  const long = linspaceF32(-1, 1, 37);
  assert.equal(long[0], -1);
  assert.equal(long[36], 1);
  assert.ok(
    maxAbsDiff(
      long,
      Array.from({ length: 37 }, (_, i) => -1 + i / 18),
    ) < 1e-6,
  );
});

test("errors are explicit", () => {
  const s = new DdimScheduler(SD_CONFIG);
  const x = new Float32Array(8);
  assert.throws(() => s.step(x, 901, x), /DdimScheduler\.step: call setTimesteps/);
  assert.throws(() => s.invertStep(x, 1, x), /DdimScheduler\.invertStep: call setTimesteps/);
  assert.throws(() => s.inversionTimesteps(), /call setTimesteps/);
  s.setTimesteps(10);
  assert.throws(() => s.step(new Float32Array(7), 901, x), /model output has 7 elements but the sample has 8/);
  assert.throws(() => s.invertStep(x, 1000, x), /timestep must be an integer in \[0, 999\], got 1000/);
  assert.throws(() => s.step(x, 1.5, x), /timestep must be an integer/);
  assert.throws(() => s.setTimesteps(0), /integer in \[1, 1000\]/);
  assert.throws(() => s.setTimesteps(1001), /integer in \[1, 1000\]/);
  assert.throws(
    () => new DdimScheduler({ beta_schedule: "cosine" }),
    /unknown beta_schedule "cosine"; expected one of linear, scaled_linear, squaredcos_cap_v2/,
  );
  assert.throws(() => new DdimScheduler({ prediction_type: "noise" }), /unknown prediction_type "noise"/);
  assert.throws(() => new DdimScheduler({ num_train_timesteps: 0 }), /"num_train_timesteps" must be an integer in 1…100000/);
  assert.throws(() => new DdimScheduler({ clip_sample: "yes" as unknown as boolean }), /"clip_sample" must be true or false/);
  assert.throws(
    () => new DdimScheduler({ num_train_timesteps: 3, trained_betas: [0.1, 0.2] }),
    /has 2 values but num_train_timesteps is 3/,
  );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ddim-test-"));
  try {
    const missing = path.join(dir, "missing.json");
    assert.throws(
      () => DdimScheduler.fromConfigFile(missing),
      (e: Error) => e.message.includes(missing) && /cannot be read/.test(e.message),
    );
    const broken = path.join(dir, "broken.json");
    fs.writeFileSync(broken, "{ not json");
    assert.throws(() => DdimScheduler.fromConfigFile(broken), /broken\.json: not valid JSON/);
    const list = path.join(dir, "list.json");
    fs.writeFileSync(list, "[1, 2]");
    assert.throws(() => DdimScheduler.fromConfigFile(list), /list\.json: expected a JSON object, got an array of length 2/);
    const bad = path.join(dir, "bad.json");
    fs.writeFileSync(bad, JSON.stringify({ beta_schedule: "sigmoid" }));
    assert.throws(() => DdimScheduler.fromConfigFile(bad), /bad\.json: unknown beta_schedule "sigmoid"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
