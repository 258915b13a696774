// The one video UNet graph of a model and configuration: attention fusion at every controlled layer for
// editing, and the head-averaged cross-attention maps of those layers as extra outputs for inversion (run
// with neutral controls it is exactly the plain UNet). One session serves both, so the UNet's weights are
// held once; it is built on first use and kept for later edits (a notebook re-runs edits many times).
// Inversion, editing and the denoising-maps replay all call it through `predict`.
import * as ort from "onnxruntime-node";
import { KEY_FRAMES_INPUT, keyFramesFeed, parseSelectors, type FrameSelector } from "../models/frameLayout";
import { buildUnetGraph } from "../models/unet";
import type { AttentionSite } from "../models/unetTransformer";
import { DType } from "../onnx/graph";
import { openSession } from "../onnx/session";
import { CheckpointWeights } from "../onnx/weightSource";
import { attentionSites, type AttentionLayer } from "./attentionSites";
import { frameWindows, putOwnFrames, takeFrames } from "./frameWindows";
import { attentionFusion, controlFeeds, neutralControls, selfMaskInput, type UnetControls } from "./fusionGraph";
import { injectedHash } from "./injectedHash";
import type { FateZeroModel } from "./loadModel";

/** Shape and inflation of the UNet. */
export interface FusedUnetOptions {
  latentSize: [number, number];
  selectors: (number | string)[];
  leastScChannel: number;
  queryLimit: number;
  injected?: ReadonlyMap<string, Float32Array>;
}

/** A stored cross-attention layer: output `name` holds its head-averaged probabilities [B·F, h·w, T]. */
export interface MapOutput {
  name: string;
  site: AttentionSite;
  height: number;
  width: number;
  /** One of the layers the blend mask averages. */
  maskSource: boolean;
}

/** What one UNet call returns: the noise prediction and the maps asked for (by output name). */
export interface UnetPrediction {
  /** Noise prediction shaped like the sample, [B, C, F, h, w]. */
  noise: Float32Array;
  maps: Map<string, Float32Array>;
}

/** An open fused UNet and what it controls. */
export class FusedUnet {
  constructor(
    private readonly session: ort.InferenceSession,
    /** Every attention layer, with what FateZero does with it. */
    readonly sites: AttentionLayer[],
    /** Sizes [h, w] of the controlled self-attention layers (one mask input each). */
    readonly maskSizes: [number, number][],
    /** The controlled cross-attention layers' map outputs, in forward order. */
    readonly mapOutputs: MapOutput[],
    private readonly tokens: number,
    /** Sparse-causal key frames of the self-attention. */
    private readonly selectors: FrameSelector[],
  ) {}

  /** The map outputs the blend mask averages. */
  get maskOutputs(): MapOutput[] {
    return this.mapOutputs.filter((m) => m.maskSource);
  }

  /**
   * Noise for `sample` [B, C, F, h, w] at timestep `t` with text embeddings `context` [B, T, D]; `controls`
   * fuse attention (default: none), and the maps of `maps` come back with it. A clip longer than `frameChunk`
   * frames goes through the graph in windows (see frameWindows).
   */
  async predict(
    sample: Float32Array,
    dims: [number, number, number, number, number],
    t: number,
    context: Float32Array,
    controls?: UnetControls,
    maps: readonly MapOutput[] = [],
    frameChunk = Infinity,
  ): Promise<UnetPrediction> {
    const [B, C, F, h, w] = dims;
    const c = controls ?? neutralControls(B, this.tokens);
    if (c.branches !== B) throw new Error(`UNet: controls for ${c.branches} branches, sample has ${B}`);
    const windows = frameWindows(F, this.selectors, Math.min(frameChunk, F));
    if (windows.length === 1) return this.run(sample, dims, t, context, c, maps, windows[0].frames, F);
    const noise = new Float32Array(sample.length); // [B, C, F, h, w]
    const mapData = new Map(maps.map((m) => [m.name, new Float32Array(B * F * m.height * m.width * this.tokens)])); // [B·F, h·w, T]
    for (const win of windows) {
      const W = win.frames.length;
      const selfMasks = new Map([...c.selfMasks].map(([name, m]) => [name, takeFrames(m, 1, F, win.frames)]));
      const part = await this.run(
        takeFrames(sample, B * C, F, win.frames), // [B, C, W, h, w]
        [B, C, W, h, w],
        t,
        context,
        { ...c, selfMasks },
        maps,
        win.frames,
        F,
      );
      putOwnFrames(noise, part.noise, B * C, F, win);
      for (const [name, data] of part.maps) putOwnFrames(mapData.get(name)!, data, B, F, win);
    }
    return { noise, maps: mapData };
  }

  /** Close the session, returning its weights and working memory. */
  release(): Promise<void> {
    return this.session.release();
  }

  /** One graph evaluation of the clip frames `frames` (of `total`). */
  private async run(
    sample: Float32Array,
    dims: [number, number, number, number, number],
    t: number,
    context: Float32Array,
    c: UnetControls,
    maps: readonly MapOutput[],
    frames: readonly number[],
    total: number,
  ): Promise<UnetPrediction> {
    const [B, , F] = dims;
    const feeds: Record<string, ort.Tensor> = {
      sample: new ort.Tensor("float32", sample, dims),
      timestep: new ort.Tensor("float32", Float32Array.of(t), [1]),
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
    return { noise: out.noise_pred.data as Float32Array, maps: new Map(maps.map((m) => [m.name, out[m.name].data as Float32Array])) };
  }
}

const sessions = new WeakMap<FateZeroModel, Map<string, Promise<FusedUnet>>>();

/** The fused UNet for these options, built on first use. */
export function fusedUnet(model: FateZeroModel, o: FusedUnetOptions): Promise<FusedUnet> {
  let perModel = sessions.get(model);
  if (!perModel) sessions.set(model, (perModel = new Map()));
  const key = JSON.stringify([o.latentSize, o.selectors, o.leastScChannel, o.queryLimit, o.injected ? injectedHash(o.injected) : null]);
  let u = perModel.get(key);
  if (!u) {
    u = build(model, o);
    perModel.set(key, u);
  }
  return u;
}

/** Close the model's UNet sessions (weights and working memory); a later `fusedUnet` builds them again. */
export async function releaseFusedUnets(model: FateZeroModel): Promise<void> {
  const perModel = sessions.get(model);
  sessions.delete(model);
  for (const u of perModel?.values() ?? []) await (await u).release();
}

async function build(model: FateZeroModel, o: FusedUnetOptions): Promise<FusedUnet> {
  const selectors: FrameSelector[] = parseSelectors(o.selectors);
  const sites = attentionSites(model.unetConfig, o.latentSize, { selectors, leastScChannel: o.leastScChannel }, o.queryLimit);
  const source = new CheckpointWeights("unet", model.folder.unet.weights, o.injected);
  const tokens = model.dims.tokens;
  const fusion = attentionFusion(sites, tokens);
  const graph = buildUnetGraph(model.unetConfig, source, {
    video: { selectors, leastScChannel: o.leastScChannel },
    latentSize: o.latentSize,
    onAttention: fusion.hook,
    perHeadSelfAttention: (model.sessionOptions.device ?? "cpu") === "cpu",
  });
  const maskModules = new Set(sites.filter((l) => l.maskSource).map((l) => l.module));
  const mapOutputs = fusion.crossProbs.map(({ site, probs }, i): MapOutput => {
    const name = `xattn_${i}`;
    graph.output(name, graph.op("ReduceMean", [probs], { axes: [1], keepdims: 0 }), DType.float);
    return { name, site, height: site.size![0], width: site.size![1], maskSource: maskModules.has(site.path) };
  });
  const session = await openSession(graph, source.linkedFiles(), model.sessionOptions);
  return new FusedUnet(session, sites, fusion.maskSizes, mapOutputs, tokens, selectors);
}
