// The one video UNet graph of a model and configuration: attention fusion at every controlled layer for
// editing, and the head-averaged cross-attention maps of those layers as extra outputs for inversion (run
// with neutral controls it is exactly the plain UNet). One session serves both, so the UNet's weights are
// held once; it is built on first use and kept for later edits (a notebook re-runs edits many times).
import * as ort from "onnxruntime-node";
import { attentionFusion, FUSION_INPUTS, selfMaskInput } from "../attentionControl/fusionGraph";
import { injectedHash } from "../inversion/injectedHash";
import { parseSelectors } from "../models/frameLayout";
import { buildUnetGraph } from "../models/unet";
import type { AttentionSite } from "../models/unetTransformer";
import { DType } from "../onnx/graph";
import { openSession } from "../onnx/session";
import { CheckpointWeights } from "../onnx/weightSource";
import type { FateZeroModel } from "./loadModel";

/** Shape and inflation of the UNet. */
export interface FusedUnetOptions {
  latentSize: [number, number];
  selectors: (number | string)[];
  leastScChannel: number;
  queryLimit: number;
  injected?: ReadonlyMap<string, Float32Array>;
}

/** An open fused UNet and what it controls. */
export interface FusedUnet {
  session: ort.InferenceSession;
  controlled: AttentionSite[];
  /** Sizes [h, w] of the controlled self-attention layers (one mask input each). */
  maskSizes: [number, number][];
  /** Output `xattn_<i>`: head-averaged probabilities [B·F, h·w, 77] of controlled cross-attention layer i. */
  mapOutputs: { name: string; site: AttentionSite; height: number; width: number }[];
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

async function build(model: FateZeroModel, o: FusedUnetOptions): Promise<FusedUnet> {
  const source = new CheckpointWeights("unet", model.folder.unet.weights, o.injected);
  const fusion = attentionFusion(o.queryLimit);
  const graph = buildUnetGraph(model.unetConfig, source, {
    video: { selectors: parseSelectors(o.selectors), leastScChannel: o.leastScChannel },
    latentSize: o.latentSize,
    onAttention: fusion.hook,
  });
  const mapOutputs = fusion.crossProbs.map(({ site, probs }, i) => {
    const name = `xattn_${i}`;
    graph.output(name, graph.op("ReduceMean", [probs], { axes: [1], keepdims: 0 }), DType.float);
    return { name, site, height: site.size![0], width: site.size![1] };
  });
  return { session: await openSession(graph, source.linkedFiles(), model.sessionOptions), controlled: fusion.controlled, maskSizes: fusion.maskSizes, mapOutputs };
}

/** Control inputs that make the fused UNet the plain UNet: one branch, its own source, nothing fused. */
export function neutralControls(unet: FusedUnet, frames: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    [FUSION_INPUTS.srcIndex]: new ort.Tensor("int64", BigInt64Array.of(0n), [1]),
    [FUSION_INPUTS.editIndex]: new ort.Tensor("int64", BigInt64Array.of(0n), [1]),
    [FUSION_INPUTS.editOneHot]: new ort.Tensor("bool", Uint8Array.of(1), [1]),
    [FUSION_INPUTS.crossMatrix]: new ort.Tensor("float32", new Float32Array(77 * 77), [77, 77]),
    [FUSION_INPUTS.crossBlend]: new ort.Tensor("float32", new Float32Array(77), [77]),
    [FUSION_INPUTS.crossEq]: new ort.Tensor("float32", new Float32Array(77).fill(1), [77]),
    [FUSION_INPUTS.crossAlpha]: new ort.Tensor("float32", new Float32Array(77), [77]),
  };
  for (const [h, w] of unet.maskSizes) feeds[selfMaskInput(h, w)] = new ort.Tensor("float32", new Float32Array(frames * h * w).fill(1), [frames, h * w]);
  return onlyInputs(unet, feeds);
}

/** Drop feeds the graph does not declare (a graph with no controlled layers has no control inputs). */
export function onlyInputs(unet: FusedUnet, feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const names = new Set(unet.session.inputNames);
  return Object.fromEntries(Object.entries(feeds).filter(([name]) => names.has(name)));
}
