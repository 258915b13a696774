// The one video UNet graph of a model and configuration: attention fusion at every controlled layer for
// editing, and the head-averaged cross-attention maps of those layers as extra outputs for inversion (run
// with neutral controls it is exactly the plain UNet). One session serves both, so the UNet's weights are
// held once; it is built on first use and kept for later edits (a notebook re-runs edits many times).
// Inversion, editing and the denoising-maps replay open it with `unetForInversion` and call `predict`.
import * as ort from "onnxruntime-node";
import { KEY_FRAMES_INPUT, keyFramesFeed, type FrameSelector } from "../networks/frameLayout";
import { buildUnetGraph } from "../networks/unet";
import { DType } from "../onnx/graph";
import { QuantizedGraph } from "../onnx/quantize";
import { openSession } from "../onnx/session";
import { CheckpointWeights } from "../onnx/weightSource";
import { attentionSites, controlledSelfSizes, inversionBuild, type AttentionLayer, type UnetBuild } from "./attentionSites";
import { frameWindows, putOwnFrames, takeFrames } from "./frameWindows";
import { DEFAULT_UNET_PRECISION, type UnetPrecision } from "./editOptions";
import { attentionFusion, controlFeeds, neutralControls, selfMaskInput, type UnetControls } from "./fusionGraph";
import { injectedHash } from "./injectedHash";
import type { InversionKey } from "./inversionRecord";
import type { FateZeroModel } from "./loadModel";

/** A build of the UNet, the tensors injected into its weights (FateZero's random temporal biases), if any, and its precision. */
export interface FusedUnetOptions extends UnetBuild {
  injected?: ReadonlyMap<string, Float32Array>;
  /** Default DEFAULT_UNET_PRECISION. */
  precision?: UnetPrecision;
}

/** One UNet call: its inputs, and what comes back besides the noise. */
export interface UnetCall {
  /** Latents [B, C, F, h, w]. */
  sample: Float32Array;
  dims: [number, number, number, number, number];
  timestep: number;
  /** Text embeddings [B, T, D]. */
  context: Float32Array;
  /** Attention fusion of this step; default none (the plain UNet). */
  controls?: UnetControls;
  /** Stored layers (storedLayers) whose head-averaged maps come back; default none. */
  maps?: readonly AttentionLayer[];
  /** Frames per UNet window of a longer clip (see frameWindows); default the whole clip. */
  frameChunk?: number;
}

/** What one UNet call returns: the noise prediction and the maps asked for. */
export interface UnetPrediction {
  /** Noise prediction shaped like the sample, [B, C, F, h, w]. */
  noise: Float32Array;
  /** Head-averaged maps [B·F, h·w, T] by layer module. */
  maps: Map<string, Float32Array>;
}

/** An open fused UNet and what it controls. */
export class FusedUnet {
  /** Sizes [h, w] of the controlled self-attention layers (one mask input each). */
  readonly maskSizes: [number, number][];

  constructor(
    private readonly session: ort.InferenceSession,
    /** Every attention layer, with what FateZero does with it. */
    readonly layers: AttentionLayer[],
    /** The graph output of each stored layer's maps, by module. */
    private readonly mapOutputs: ReadonlyMap<string, string>,
    private readonly tokens: number,
    /** Sparse-causal key frames of the self-attention. */
    private readonly selectors: FrameSelector[],
  ) {
    this.maskSizes = controlledSelfSizes(layers);
  }

  /** Noise for a call's sample, with the maps it asks for; a clip longer than its frame chunk goes through the graph in windows. */
  async predict(call: UnetCall): Promise<UnetPrediction> {
    const [B, C, F, h, w] = call.dims;
    const controls = call.controls ?? neutralControls(B, this.tokens);
    if (controls.branches !== B) throw new Error(`UNet: controls for ${controls.branches} branches, sample has ${B}`);
    const maps = (call.maps ?? []).map((l) => {
      const name = this.mapOutputs.get(l.module);
      if (!name) throw new Error(`UNet: ${l.module} is not a stored layer, so it has no maps`);
      return { module: l.module, name, height: l.height, width: l.width };
    });
    const windows = frameWindows(F, this.selectors, Math.min(call.frameChunk ?? Infinity, F));
    if (windows.length === 1) return this.run(call, controls, maps, windows[0].frames, F);
    const noise = new Float32Array(call.sample.length); // [B, C, F, h, w]
    const mapData = new Map(maps.map((m) => [m.module, new Float32Array(B * F * m.height * m.width * this.tokens)])); // [B·F, h·w, T]
    for (const win of windows) {
      const W = win.frames.length;
      const selfMasks = new Map([...controls.selfMasks].map(([name, m]) => [name, takeFrames(m, 1, F, win.frames)]));
      const window: UnetCall = {
        ...call,
        sample: takeFrames(call.sample, B * C, F, win.frames), // [B, C, W, h, w]
        dims: [B, C, W, h, w],
      };
      const part = await this.run(window, { ...controls, selfMasks }, maps, win.frames, F);
      putOwnFrames(noise, part.noise, B * C, F, win);
      for (const [module, data] of part.maps) putOwnFrames(mapData.get(module)!, data, B, F, win);
    }
    return { noise, maps: mapData };
  }

  /** Close the session, returning its weights and working memory. */
  release(): Promise<void> {
    return this.session.release();
  }

  /** One graph evaluation of the clip frames `frames` (of `total`). */
  private async run(
    call: UnetCall,
    c: UnetControls,
    maps: { module: string; name: string }[],
    frames: readonly number[],
    total: number,
  ): Promise<UnetPrediction> {
    const { sample, dims, context } = call;
    const [B, , F] = dims;
    const feeds: Record<string, ort.Tensor> = {
      sample: new ort.Tensor("float32", sample, dims),
      timestep: new ort.Tensor("float32", Float32Array.of(call.timestep), [1]),
      encoder_hidden_states: new ort.Tensor("float32", context, [B, this.tokens, context.length / B / this.tokens]),
      ...controlFeeds(c, F, this.session.inputNames),
    };
    if (this.session.inputNames.includes(KEY_FRAMES_INPUT)) feeds[KEY_FRAMES_INPUT] = keyFramesFeed(this.selectors, total, frames);
    for (const [h, w] of this.maskSizes) {
      const name = selfMaskInput(h, w);
      // Sizes the controls leave out keep the edit's own attention.
      feeds[name] ??= new ort.Tensor("float32", new Float32Array(F * h * w).fill(1), [F, h * w]);
    }
    const out = await this.session.run(feeds, ["noise_pred", ...maps.map((m) => m.name)]);
    return { noise: out.noise_pred.data as Float32Array, maps: new Map(maps.map((m) => [m.module, out[m.name].data as Float32Array])) };
  }
}

const sessions = new WeakMap<FateZeroModel, Map<string, Promise<FusedUnet>>>();

/** The fused UNet for these options, built on first use. */
export function fusedUnet(model: FateZeroModel, o: FusedUnetOptions): Promise<FusedUnet> {
  let perModel = sessions.get(model);
  if (!perModel) sessions.set(model, (perModel = new Map()));
  const precision = o.precision ?? DEFAULT_UNET_PRECISION;
  const key = JSON.stringify([
    o.latentSize,
    o.selectors,
    o.leastScChannel,
    o.queryLimit,
    o.injected ? injectedHash(o.injected) : null,
    precision,
  ]);
  let u = perModel.get(key);
  if (!u) {
    u = build(model, o);
    perModel.set(key, u);
  }
  return u;
}

/**
 * The UNet an inversion was made with: latent size, inflation and query limit come from its key, so the layers
 * an edit or a replay controls and reads are those the inversion stored. `injected` must be the inversion's.
 */
export function unetForInversion(
  model: FateZeroModel,
  key: InversionKey,
  injected?: ReadonlyMap<string, Float32Array>,
): Promise<FusedUnet> {
  const hash = injected && injected.size > 0 ? injectedHash(injected) : undefined;
  if (hash !== key.injected)
    throw new Error(
      key.injected
        ? "UNet: this inversion was made with injected tensors; pass the same ones"
        : "UNet: this inversion was made without injected tensors, but some were given",
    );
  return fusedUnet(model, { ...inversionBuild(key, model.dims.vaeFactor), injected, precision: key.unetPrecision });
}

/** Close the model's UNet sessions (weights and working memory); a later `fusedUnet` builds them again. */
export async function releaseFusedUnets(model: FateZeroModel): Promise<void> {
  const perModel = sessions.get(model);
  sessions.delete(model);
  for (const u of perModel?.values() ?? []) await (await u).release();
}

/** The fused UNet's graph and weight files for these options, and how to wrap a session opened on them. */
export function fusedUnetGraph(model: FateZeroModel, o: FusedUnetOptions) {
  const layers = attentionSites(model.unetConfig, o);
  const source = new CheckpointWeights("unet", model.folder.unet.weights, o.injected);
  const tokens = model.dims.tokens;
  const fusion = attentionFusion(layers, tokens);
  const graph = buildUnetGraph(model.unetConfig, source, {
    video: { selectors: o.selectors, leastScChannel: o.leastScChannel },
    latentSize: o.latentSize,
    onAttention: fusion.hook,
    perHeadSelfAttention: (model.sessionOptions.device ?? "cpu") === "cpu",
  });
  const mapOutputs = new Map(
    fusion.crossProbs.map(({ layer, probs }, i) => {
      const name = `xattn_${i}`;
      graph.output(name, graph.op("ReduceMean", [probs], { axes: [1], keepdims: 0 }), DType.float); // [B·F, h·w, T]
      return [layer.module, name];
    }),
  );
  const wrap = (session: ort.InferenceSession) => new FusedUnet(session, layers, mapOutputs, tokens, o.selectors);
  const files = source.linkedFiles();
  // The quantized graph is cached under its own key (the float graph's plus the pass), never the float one's.
  const precise = (o.precision ?? DEFAULT_UNET_PRECISION) === "int8" ? new QuantizedGraph(graph, files) : graph;
  return { graph: precise, files, wrap };
}

async function build(model: FateZeroModel, o: FusedUnetOptions): Promise<FusedUnet> {
  const { graph, files, wrap } = fusedUnetGraph(model, o);
  return wrap(await openSession(graph, files, model.sessionOptions));
}
