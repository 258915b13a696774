// DDIM (eta = 0) as diffusers 0.11.1's DDIMScheduler computes it, plus FateZero's inversion step
// (`next_clean2noise_step`). Every operation is rounded to float32 in torch's order, so a step on the
// same float32 inputs gives the same float32 result as the reference pipeline.
import * as fs from "node:fs";
import { cumprodF32, linspaceF32 } from "./torch-float32";

const f32 = Math.fround;

/** Beta schedules known to diffusers 0.11.1's DDIMScheduler. */
export type BetaSchedule = "linear" | "scaled_linear" | "squaredcos_cap_v2";

/** What the model predicts: the noise, the velocity (v) or the clean sample. */
export type PredictionType = "epsilon" | "v_prediction" | "sample";

/** Most training timesteps a config may declare: a hundred times SD's 1000; the schedule holds a few arrays of that length. */
export const MAX_TRAIN_TIMESTEPS = 100_000;

const BETA_SCHEDULES: readonly BetaSchedule[] = ["linear", "scaled_linear", "squaredcos_cap_v2"];
const PREDICTION_TYPES: readonly PredictionType[] = ["epsilon", "v_prediction", "sample"];

/** A diffusers `scheduler_config.json` as parsed JSON: snake_case keys, all optional, others ignored. */
export interface DiffusersSchedulerJson {
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: string;
  trained_betas?: number[] | null;
  clip_sample?: boolean;
  set_alpha_to_one?: boolean;
  steps_offset?: number;
  prediction_type?: string;
  /** Deprecated diffusers key: true means `epsilon`, false means `sample`. */
  predict_epsilon?: boolean;
  [key: string]: unknown;
}

/** The validated settings of a DdimScheduler (diffusers defaults filled in). */
export interface DdimSchedulerConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaSchedule;
  readonly trainedBetas: readonly number[] | null;
  readonly clipSample: boolean;
  readonly setAlphaToOne: boolean;
  readonly stepsOffset: number;
  readonly predictionType: PredictionType;
}

/** DDIM sampler (eta = 0) and FateZero's DDIM inversion step over flattened float32 latents. */
export class DdimScheduler {
  readonly config: DdimSchedulerConfig;
  /** Noise variance per training timestep, float32. */
  readonly betas: Float32Array;
  /** Product of (1 - beta) up to each training timestep, float32 as torch computes it. */
  readonly alphasCumprod: Float32Array;
  /** alphas_cumprod "before" timestep 0: 1 with set_alpha_to_one, else alphas_cumprod[0]. */
  readonly finalAlphaCumprod: number;
  /** Inference timesteps, noisiest first; empty until setTimesteps. */
  timesteps: number[] = [];
  /** Number of inference steps; null until setTimesteps. */
  numInferenceSteps: number | null = null;

  /** Build from a diffusers scheduler config object (unknown keys such as `_class_name` are ignored). */
  constructor(json: DiffusersSchedulerJson = {}) {
    this.config = resolveConfig(json);
    this.betas = makeBetas(this.config);
    const alphas = new Float32Array(this.betas.length); // shape [numTrainTimesteps]
    for (let i = 0; i < alphas.length; i++) alphas[i] = f32(1 - this.betas[i]);
    this.alphasCumprod = cumprodF32(alphas);
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.alphasCumprod[0];
  }

  /** Read a diffusers `scheduler_config.json`; errors name the file and the problem. */
  static fromConfigFile(path: string): DdimScheduler {
    let text: string;
    try {
      text = fs.readFileSync(path, "utf8");
    } catch (e) {
      throw new Error(`scheduler config ${path}: cannot be read (${(e as Error).message})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`scheduler config ${path}: not valid JSON (${(e as Error).message})`);
    }
    return DdimScheduler.fromConfig(json, path);
  }

  /** Build from a parsed scheduler config; errors name `where` (the file it came from) and the problem. */
  static fromConfig(json: unknown, where: string): DdimScheduler {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new Error(`scheduler config ${where}: expected a JSON object, got ${describe(json)}`);
    }
    try {
      return new DdimScheduler(json as DiffusersSchedulerJson);
    } catch (e) {
      throw new Error(`scheduler config ${where}: ${(e as Error).message}`);
    }
  }

  /** Training timesteps between two inference steps (T // n). */
  get stepRatio(): number {
    return this.ratioFor("stepRatio");
  }

  /** Choose n inference steps: arange(n)*(T//n), reversed, plus steps_offset (e.g. 901, 801, …, 1). */
  setTimesteps(numInferenceSteps: number): number[] {
    const T = this.config.numTrainTimesteps;
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > T) {
      throw new Error(
        `DdimScheduler.setTimesteps: the number of inference steps must be an integer in [1, ${T}], got ${numInferenceSteps}`,
      );
    }
    this.numInferenceSteps = numInferenceSteps;
    const ratio = Math.floor(T / numInferenceSteps);
    this.timesteps = Array.from({ length: numInferenceSteps }, (_, i) => (numInferenceSteps - 1 - i) * ratio + this.config.stepsOffset);
    return [...this.timesteps];
  }

  /** The order FateZero's inversion visits the timesteps: least noisy first (1, 101, …, 901 for n = 10). */
  inversionTimesteps(): number[] {
    this.requireSteps("inversionTimesteps");
    return [...this.timesteps].reverse();
  }

  /** One DDIM step (eta = 0) from timestep t to t - T//n; `modelOutput` and `sample` are flattened latents. */
  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    const ratio = this.ratioFor("step");
    this.checkInputs("step", modelOutput, t, sample);
    const alphaT = this.alphasCumprod[t];
    const prev = t - ratio;
    const alphaPrev = prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
    const sqrtAlphaT = f32(Math.sqrt(alphaT));
    const sqrtBetaT = f32(Math.sqrt(f32(1 - alphaT)));
    const sqrtAlphaPrev = f32(Math.sqrt(alphaPrev));
    // With eta = 0 the variance term vanishes: the direction coefficient is sqrt(1 - alpha_prev - 0).
    const sqrtBetaPrev = f32(Math.sqrt(f32(1 - alphaPrev)));
    const clip = this.config.clipSample;
    const type = this.config.predictionType;
    const out = new Float32Array(sample.length); // shape as sample, e.g. [F,4,h,w]
    for (let i = 0; i < out.length; i++) {
      const x = sample[i];
      const m = modelOutput[i];
      let x0: number;
      let eps: number;
      if (type === "epsilon") {
        x0 = f32(f32(x - f32(sqrtBetaT * m)) / sqrtAlphaT);
        eps = m;
      } else if (type === "sample") {
        x0 = m;
        // diffusers 0.11.1 keeps the raw model output (here the sample) in the direction term; kept for fidelity.
        eps = m;
      } else {
        x0 = f32(f32(sqrtAlphaT * x) - f32(sqrtBetaT * m));
        // diffusers 0.11.1 replaces the model output by this quantity before the direction term.
        eps = f32(f32(sqrtAlphaT * m) + f32(sqrtBetaT * x));
      }
      if (clip) x0 = Math.min(1, Math.max(-1, x0));
      out[i] = f32(f32(sqrtAlphaPrev * x0) + f32(sqrtBetaPrev * eps));
    }
    return out;
  }

  /** FateZero's `next_clean2noise_step`: DDIM inversion from t - T//n to t with the noise predicted at t. */
  invertStep(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    const ratio = this.ratioFor("invertStep");
    this.checkInputs("invertStep", modelOutput, t, sample);
    // The first inversion step starts "before" timestep 0, where FateZero uses the final alpha.
    const from = t - ratio;
    const alphaT = from >= 0 ? this.alphasCumprod[from] : this.finalAlphaCumprod;
    const alphaNext = this.alphasCumprod[t];
    const sqrtAlphaT = f32(Math.sqrt(alphaT));
    const sqrtBetaT = f32(Math.sqrt(f32(1 - alphaT)));
    const sqrtAlphaNext = f32(Math.sqrt(alphaNext));
    const sqrtBetaNext = f32(Math.sqrt(f32(1 - alphaNext)));
    const out = new Float32Array(sample.length); // shape as sample, e.g. [F,4,h,w]
    for (let i = 0; i < out.length; i++) {
      const m = modelOutput[i];
      const x0 = f32(f32(sample[i] - f32(sqrtBetaT * m)) / sqrtAlphaT);
      out[i] = f32(f32(sqrtAlphaNext * x0) + f32(sqrtBetaNext * m));
    }
    return out;
  }

  /** T // n, or an error naming the caller when setTimesteps has not been called. */
  private ratioFor(what: string): number {
    return Math.floor(this.config.numTrainTimesteps / this.requireSteps(what));
  }

  /** The number of inference steps, or an error naming the caller when it is not set yet. */
  private requireSteps(what: string): number {
    if (this.numInferenceSteps === null) {
      throw new Error(`DdimScheduler.${what}: call setTimesteps(numInferenceSteps) first`);
    }
    return this.numInferenceSteps;
  }

  /** Reject a timestep outside the training range and inputs of different lengths. */
  private checkInputs(what: string, modelOutput: Float32Array, t: number, sample: Float32Array): void {
    const T = this.config.numTrainTimesteps;
    if (!Number.isInteger(t) || t < 0 || t >= T) {
      throw new Error(`DdimScheduler.${what}: timestep must be an integer in [0, ${T - 1}], got ${t}`);
    }
    if (modelOutput.length !== sample.length) {
      throw new Error(`DdimScheduler.${what}: model output has ${modelOutput.length} elements but the sample has ${sample.length}`);
    }
  }
}

/** Validate a diffusers config object and fill in DDIMScheduler's defaults. */
function resolveConfig(json: DiffusersSchedulerJson): DdimSchedulerConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new Error(`DDIM scheduler config must be an object, got ${describe(json)}`);
  }
  const num = (key: string, fallback: number, check: (v: number) => boolean, expected: string): number => {
    const v = json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !check(v)) throw new Error(`"${key}" must be ${expected}, got ${describe(v)}`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") throw new Error(`"${key}" must be true or false, got ${describe(v)}`);
    return v;
  };
  const oneOf = <K extends string>(key: string, fallback: K, allowed: readonly K[]): K => {
    const v = json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      throw new Error(`unknown ${key} ${describe(v)}; expected one of ${allowed.join(", ")}`);
    }
    return v as K;
  };

  const numTrainTimesteps = num(
    "num_train_timesteps",
    1000,
    (v) => Number.isInteger(v) && v >= 1 && v <= MAX_TRAIN_TIMESTEPS,
    `an integer in 1…${MAX_TRAIN_TIMESTEPS}`,
  );
  let trainedBetas: number[] | null = null;
  const rawBetas = json.trained_betas;
  if (rawBetas !== undefined && rawBetas !== null) {
    if (!Array.isArray(rawBetas) || !rawBetas.every((b) => typeof b === "number" && Number.isFinite(b))) {
      throw new Error(`"trained_betas" must be an array of numbers or null, got ${describe(rawBetas)}`);
    }
    if (rawBetas.length !== numTrainTimesteps) {
      throw new Error(`"trained_betas" has ${rawBetas.length} values but num_train_timesteps is ${numTrainTimesteps}`);
    }
    trainedBetas = [...rawBetas];
  }
  let predictionType = oneOf<PredictionType>("prediction_type", "epsilon", PREDICTION_TYPES);
  // diffusers lets the deprecated flag override prediction_type.
  const predictEpsilon = json.predict_epsilon;
  if (predictEpsilon !== undefined && predictEpsilon !== null) {
    if (typeof predictEpsilon !== "boolean") throw new Error(`"predict_epsilon" must be true or false, got ${describe(predictEpsilon)}`);
    predictionType = predictEpsilon ? "epsilon" : "sample";
  }
  return {
    numTrainTimesteps,
    betaStart: num("beta_start", 0.0001, Number.isFinite, "a finite number"),
    betaEnd: num("beta_end", 0.02, Number.isFinite, "a finite number"),
    betaSchedule: oneOf<BetaSchedule>("beta_schedule", "linear", BETA_SCHEDULES),
    trainedBetas,
    clipSample: bool("clip_sample", true),
    setAlphaToOne: bool("set_alpha_to_one", true),
    stepsOffset: num("steps_offset", 0, (v) => Number.isInteger(v) && v >= 0, "a non-negative integer"),
    predictionType,
  };
}

/** The float32 betas of the configured schedule, as diffusers builds them. */
function makeBetas(c: DdimSchedulerConfig): Float32Array {
  if (c.trainedBetas !== null) return Float32Array.from(c.trainedBetas);
  switch (c.betaSchedule) {
    case "linear":
      return linspaceF32(c.betaStart, c.betaEnd, c.numTrainTimesteps);
    case "scaled_linear": {
      // Latent-diffusion schedule: linear in sqrt(beta), squared in float32.
      const roots = linspaceF32(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), c.numTrainTimesteps);
      return roots.map((r) => f32(r * r));
    }
    case "squaredcos_cap_v2":
      return cosineBetas(c.numTrainTimesteps);
  }
}

/** Glide's cosine schedule (`betas_for_alpha_bar`), computed in double and stored as float32. */
function cosineBetas(n: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number): number => {
    const c = Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2);
    return c * c;
  };
  const out = new Float32Array(n); // shape [n]
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta);
  return out;
}

/** Short description of a JSON value for error messages. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object") return "an object";
  return String(v);
}
