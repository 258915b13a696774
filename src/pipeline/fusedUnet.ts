// The edit UNet: the inflated video UNet with attention fusion at every controlled layer, built once per
// model and configuration and kept for later edits (a notebook re-runs edits many times).
import type * as ort from "onnxruntime-node";
import { attentionFusion } from "../attentionControl/fusionGraph";
import { parseSelectors } from "../models/frameLayout";
import { buildUnetGraph } from "../models/unet";
import type { AttentionSite } from "../models/unetTransformer";
import { openSession } from "../onnx/session";
import { CheckpointWeights } from "../onnx/weightSource";
import { injectedHash } from "../inversion/invertVideo";
import type { FateZeroModel } from "./loadModel";

/** Shape and inflation of the edit UNet. */
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
  return { session: await openSession(graph, source.linkedFiles(), model.sessionOptions), controlled: fusion.controlled, maskSizes: fusion.maskSizes };
}
