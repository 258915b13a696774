// The UNet as a running ONNX Runtime session: one noise prediction per call.
import * as ort from "onnxruntime-node";
import { openSession, type SessionOptions } from "../onnx/session";
import { CheckpointWeights } from "../onnx/weightSource";
import type { UnetConfig } from "./configs";
import { buildUnetGraph, type UnetGraphOptions } from "./unet";
import { KEY_FRAMES_INPUT, keyFramesFeed } from "./frameLayout";
import type { WeightSet } from "../checkpoint/weightSet";

/** Options for loading a UNet session. */
export interface UnetLoadOptions extends UnetGraphOptions, SessionOptions {
  /** Tensors to add to (or override in) the checkpoint, e.g. FateZero's temporal-attention biases. */
  injected?: ReadonlyMap<string, Float32Array>;
}

/** A UNet (image or inflated video) ready to predict noise. */
export class Unet {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: UnetConfig,
    private readonly video: UnetGraphOptions["video"],
  ) {}

  /** Build (or reuse) the graph for these weights and open it. */
  static async load(c: UnetConfig, weights: WeightSet, options: UnetLoadOptions = {}): Promise<Unet> {
    const source = new CheckpointWeights("unet", weights, options.injected);
    const graph = buildUnetGraph(c, source, options);
    return new Unet(await openSession(graph, source.linkedFiles(), options), c, options.video);
  }

  /**
   * Predict noise for `sample` ([B, C, h, w], or [B, C, F, h, w] for the video UNet) at timestep `t`
   * with text embeddings [B, T, D]. h and w must be multiples of 2^(levels−1).
   */
  async predict(sample: Float32Array, dims: number[], t: number, context: Float32Array): Promise<Float32Array> {
    const c = this.config;
    const isVideo = this.video !== undefined;
    const rank = isVideo ? 5 : 4;
    const factor = 2 ** (c.blockOutChannels.length - 1);
    const [h, w] = dims.slice(-2);
    if (dims.length !== rank || dims[1] !== c.inChannels || h % factor || w % factor) {
      throw new Error(
        `UNet: sample must be [B, ${c.inChannels}${isVideo ? ", F" : ""}, h, w] with h, w multiples of ${factor}; got [${dims}]`,
      );
    }
    const tokens = context.length / (dims[0] * c.crossAttentionDim);
    if (!Number.isInteger(tokens) || tokens < 1) {
      throw new Error(`UNet: text embeddings must be [${dims[0]}, T, ${c.crossAttentionDim}], got ${context.length} values`);
    }
    const feeds: Record<string, ort.Tensor> = {
      sample: new ort.Tensor("float32", sample, dims),
      timestep: new ort.Tensor("float32", Float32Array.of(t), [1]),
      encoder_hidden_states: new ort.Tensor("float32", context, [dims[0], tokens, c.crossAttentionDim]),
    };
    if (this.session.inputNames.includes(KEY_FRAMES_INPUT)) feeds[KEY_FRAMES_INPUT] = keyFramesFeed(this.video!.selectors, dims[2]);
    const out = await this.session.run(feeds);
    return out.noise_pred.data as Float32Array;
  }
}
