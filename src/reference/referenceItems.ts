// How each reference tensor of a fixture is recomputed with the project's own code, matched by name
// pattern (every fixture uses the same names). Tensors that are inputs of the reference generator
// (torch RNG draws, PIL-resized frames) are consumed, never recomputed; anything without a handler
// is reported as not computed.
import { DEFAULT_INFLATION } from "../fatezero/editOptions";
import { parseSelectors } from "../networks/frameLayout";
import { framesToTensor } from "../video/frameTensor";
import type { Fixture } from "./fixture";
import type { FixtureModels } from "./fixtureModels";
import { computeRun, type RunResults } from "./pipelineRun";

/** What to do with one reference tensor. */
export type ItemPlan =
  { kind: "compute"; run: () => Promise<ArrayLike<number>> } | { kind: "input"; reason: string } | { kind: "missing"; reason: string };

const INPUT_PATTERNS: [RegExp, string][] = [
  [/input_latent$/, "random input latent drawn by the reference generator"],
  [/(input_u8|input_frames_u8)$/, "input frames resized by the reference generator (PIL)"],
  [/posterior_eps$/, "torch RNG draw of the posterior sample, an input of the inversion"],
  [/^unet3d\.[^.]+\.init\./, "random temporal-attention bias of FateZero's inflation, injected as an input"],
];

/** Pipeline runs are computed once and shared by all their tensors. */
const runs = new WeakMap<Fixture, Map<string, Promise<RunResults>>>();

function runResults(fx: Fixture, run: string, models: FixtureModels): Promise<RunResults> {
  let perFixture = runs.get(fx);
  if (!perFixture) runs.set(fx, (perFixture = new Map()));
  let r = perFixture.get(run);
  if (!r) {
    r = computeRun(fx, run, models.cacheDir, models.weightsFile);
    perFixture.set(run, r);
  }
  return r;
}

/** The plan for one reference tensor. */
export function planItem(name: string, fx: Fixture, models: FixtureModels): ItemPlan {
  for (const [pattern, reason] of INPUT_PATTERNS) if (pattern.test(name)) return { kind: "input", reason };
  const run = computeFor(name, fx, models);
  if (run) return { kind: "compute", run };
  const pipelineRun = /^([^.]+)\./.exec(name)?.[1];
  if (pipelineRun && fx.get(`runs.${pipelineRun}`)) {
    return {
      kind: "compute",
      run: async () => {
        const got = (await runResults(fx, pipelineRun, models)).get(name);
        if (!got) throw new Error(`the ${pipelineRun} run does not produce this tensor`);
        return got;
      },
    };
  }
  return { kind: "missing", reason: "no computation is known for this tensor name" };
}

function computeFor(name: string, fx: Fixture, m: FixtureModels): (() => Promise<ArrayLike<number>>) | undefined {
  const prompts = () => ((fx.get("text.prompts") ?? []) as { text: string; row: number; key?: string }[]).sort((a, b) => a.row - b.row);
  switch (name) {
    case "scheduler.alphas_cumprod":
      return async () => m.scheduler().alphasCumprod;
    case "scheduler.timesteps":
      return async () => m.scheduler().setTimesteps(fx.shape(name)[0]);
    case "text.token_ids":
      return async () => prompts().flatMap((p) => m.clipTokenizer().tokenize(p.text).ids);
    case "text.last_hidden_state":
      return () => m.encodePrompts(prompts().map((p) => p.text));
    case "vae.input": {
      const [H, W] = fx.shape("vae.input_u8");
      return async () => framesToTensor(Uint8Array.from(fx.read("vae.input_u8")), 1, H, W);
    }
    case "vae.posterior_mean":
    case "vae.posterior_std":
      return async () => {
        const p = await (
          await m.autoencoder()
        ).encode(fx.readFloat32("vae.input"), fx.shape("vae.input") as [number, number, number, number]);
        return name.endsWith("mean") ? p.mean : p.std;
      };
    case "vae.decoded_mean":
      return async () =>
        (await m.autoencoder()).decode(
          fx.readFloat32("vae.posterior_mean"),
          fx.shape("vae.posterior_mean") as [number, number, number, number],
        );
    case "unet2d.encoder_hidden_states": {
      const src = prompts().find((p) => p.key === "src") ?? prompts()[0];
      return () => m.encodePrompts([src.text]);
    }
  }
  const unet = /^unet(2d|3d\.([^.]+))\.noise_pred$/.exec(name);
  if (unet) return () => unetItem(name, unet[2], fx, m);
  const run = /^([^.]+)\.inversion\.(text_embeddings|posterior_mean|posterior_std)$/.exec(name);
  if (run && fx.get(`runs.${run[1]}`)) return () => inversionInputItem(run[1], run[2], fx, m);
  return undefined;
}

async function unetItem(name: string, variant: string | undefined, fx: Fixture, m: FixtureModels): Promise<Float32Array> {
  const inputs = fx.tensors.get(name)?.inputs ?? {};
  const sampleName = String(inputs.sample ?? (variant ? "unet3d.input_latent" : "unet2d.input_latent"));
  const t = Number(inputs.timestep ?? fx.get("unet.unet_timestep"));
  const context = fx.readFloat32(String(inputs.encoder_hidden_states ?? "unet2d.encoder_hidden_states"));
  if (!variant) return (await m.unet()).predict(fx.readFloat32(sampleName), fx.shape(sampleName), t, context);
  const spec = fx.get(`unet.unet3d_variants.${variant}`) as { model_config?: Record<string, unknown>; unet_folder?: string } | undefined;
  if (!spec) throw new Error(`refs.json has no unet.unet3d_variants.${variant}`);
  const cfg = spec.model_config ?? {};
  const subfolder = spec.unet_folder && spec.unet_folder !== "unet" ? spec.unet_folder : undefined;
  const injected = fx.temporalBiases(variant, (n) => m.unetWeights(subfolder).has(n));
  const unet = await m.unet({
    subfolder,
    video: {
      selectors: parseSelectors(cfg.SparseCausalAttention_index ?? DEFAULT_INFLATION.selectors),
      leastScChannel: Number(cfg.least_sc_channel ?? DEFAULT_INFLATION.leastScChannel),
    },
    injected,
  });
  return unet.predict(fx.readFloat32(sampleName), fx.shape(sampleName), t, context);
}

async function inversionInputItem(run: string, what: string, fx: Fixture, m: FixtureModels): Promise<Float32Array> {
  if (what === "text_embeddings") {
    const prompt = fx.get(`runs.${run}.fatezero_config.dataset_config.prompt`);
    if (typeof prompt !== "string") throw new Error(`refs.json runs.${run}: no dataset_config.prompt`);
    return m.encodePrompts(["", prompt]);
  }
  const framesName = `${run}.input_frames_u8`;
  const [F, H, W] = fx.shape(framesName);
  const images = framesToTensor(Uint8Array.from(fx.read(framesName)), F, H, W);
  const p = await (await m.autoencoder()).encode(images, [F, 3, H, W]);
  return what === "posterior_mean" ? p.mean : p.std;
}
