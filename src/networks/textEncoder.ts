// CLIP text transformer (HF CLIPTextModel naming) as an ONNX graph: token + position embeddings,
// pre-norm causal self-attention layers, final LayerNorm. SD 1.x conditions on the final-normed last
// hidden state for every position (not the pooled EOT output CLIP's image-text matching uses).
import * as ort from "onnxruntime-node";
import { attention } from "../onnx/attention";
import { DType, Graph } from "../onnx/graph";
import { gelu, layerNorm, linear, quickGelu } from "../onnx/layers";
import { openSession, type SessionOptions } from "../onnx/session";
import { CheckpointWeights, type WeightSource } from "../onnx/weightSource";
import type { TextEncoderConfig } from "./configs";
import type { WeightSet } from "../checkpoint/weightSet";

/** Build the text encoder graph: input_ids int64 [B, L] → last_hidden_state [B, L, D]. */
export function buildTextEncoderGraph(c: TextEncoderConfig, weights: WeightSource): Graph {
  const g = new Graph("text_encoder", weights);
  const D = c.hiddenSize;
  const L = c.maxPositions;
  const ids = g.input("input_ids", DType.int64, ["batch", L]);
  const tok = g.op("Gather", [g.weight("text_model.embeddings.token_embedding.weight", [c.vocabSize, D]), ids], { axis: 0 }); // [B, L, D]
  const pos = g.weight("text_model.embeddings.position_embedding.weight", [L, D]); // [L, D]
  let x = g.op("Add", [tok, pos]);
  // Causal mask: position i attends to positions ≤ i.
  const mask = new Float32Array(L * L); // [L, L]
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) mask[i * L + j] = -Infinity;
  const maskValue = g.constFloat(mask, [L, L]);
  const headDim = D / c.heads;
  for (let i = 0; i < c.layers; i++) {
    const p = `text_model.encoder.layers.${i}`;
    x = g.scoped(p, () => {
      const h = layerNorm(g, x, `${p}.layer_norm1`, D, c.layerNormEps);
      const q = linear(g, h, `${p}.self_attn.q_proj`, D, D);
      const k = linear(g, h, `${p}.self_attn.k_proj`, D, D);
      const v = linear(g, h, `${p}.self_attn.v_proj`, D, D);
      const a = attention(g, q, k, v, c.heads, headDim, { mask: maskValue });
      const y = g.op("Add", [x, linear(g, a, `${p}.self_attn.out_proj`, D, D)]);
      const h2 = layerNorm(g, y, `${p}.layer_norm2`, D, c.layerNormEps);
      const f1 = linear(g, h2, `${p}.mlp.fc1`, D, c.intermediateSize);
      const act = c.activation === "quick_gelu" ? quickGelu(g, f1) : gelu(g, f1);
      return g.op("Add", [y, linear(g, act, `${p}.mlp.fc2`, c.intermediateSize, D)]);
    });
  }
  g.output("last_hidden_state", layerNorm(g, x, "text_model.final_layer_norm", D, c.layerNormEps), DType.float, ["batch", L, D]);
  return g;
}

/** The text encoder as a running ONNX Runtime session. */
export class TextEncoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: TextEncoderConfig,
  ) {}

  /** Build (or reuse from the cache) the graph for these weights and open it. */
  static async load(c: TextEncoderConfig, weights: WeightSet, options: SessionOptions = {}): Promise<TextEncoder> {
    const source = new CheckpointWeights("text_encoder", weights);
    const graph = buildTextEncoderGraph(c, source);
    return new TextEncoder(await openSession(graph, source.linkedFiles(), { ...options, releaseMemory: true }), c);
  }

  /** Encode token id rows (each of the tokenizer's length T) → embeddings [B, T, D], flattened. */
  async encode(ids: number[][]): Promise<Float32Array> {
    const L = this.config.maxPositions;
    for (const row of ids) if (row.length !== L) throw new Error(`text encoder: each token row must have ${L} ids, got ${row.length}`);
    const data = BigInt64Array.from(ids.flat().map((v) => BigInt(v))); // [B, L]
    const out = await this.session.run({ input_ids: new ort.Tensor("int64", data, [ids.length, L]) });
    return out.last_hidden_state.data as Float32Array; // [B, L, D]
  }
}
