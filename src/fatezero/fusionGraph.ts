// Inversion attention fusion inside the ONNX graph. The edit UNet runs a batch of branches ([uncond, edit,
// source] or, for the reconstruction ablation, [uncond src, uncond edit, src, edit]); at every controlled
// layer the edit branch's attention probabilities are fused with the source branch's, per frame and head, as
// FateZero's AttentionControlEdit does:
//   cross: P' = α ⊙ ((P_src · M) ⊙ a + P_edit ⊙ (1 − a)) ⊙ eq + (1 − α) ⊙ P_edit
//          (refine: M one-hot of the token mapper, a = its alphas; replace: M the word-swap matrix, a = 1)
//   self:  P' = m ⊙ P_edit + (1 − m) ⊙ P_src   (m per frame and query: 1 keeps the edit, 0 the source;
//          outside the self-replace window m = 1, without blend words m = 0 inside it)
// The edit branch's output is then P' · V_edit; all other branches pass through untouched. The controls
// are graph inputs, set per step: this file declares them and turns a UnetControls object into their feeds.
import * as ort from "onnxruntime-node";
import type { AttentionHook, AttentionSite } from "../networks/unetTransformer";
import { DType, type Graph } from "../onnx/graph";
import type { AttentionLayer } from "./attentionSites";

/** The per-step controls of a fused UNet call. Text-token vectors have T entries (the model's token count). */
export interface UnetControls {
  /** Branches in the batch, the one whose attention is fused, and the one it is fused with. */
  branches: number;
  editBranch: number;
  sourceBranch: number;
  /** [T, T] row-major: P_src · crossMatrix is the source attention in target token order. */
  crossMatrix: Float32Array;
  /** [T] weight of the mapped source attention against the edit's own, per target token. */
  crossBlend: Float32Array;
  /** [T] per-token gain of the fused cross-attention (the equalizer). */
  crossEq: Float32Array;
  /** [T] this step's cross-replace weight α per token (0: the edit keeps its own attention). */
  crossAlpha: Float32Array;
  /** Self-attention masks [F, h·w] by controlled size `selfMaskInput(h, w)` (1 keeps the edit, 0 takes the source). */
  selfMasks: Map<string, Float32Array>;
}

/** Name of the self-attention mask input for a layer size. */
export function selfMaskInput(height: number, width: number): string {
  return `self_mask_${height}x${width}`;
}

/** The graph inputs of the controls, declared by the first controlled layer. */
interface ControlInputs {
  src: string;
  edit: string;
  /** The edit branch's index as ScatterND indices, [1, 1]. */
  editRow: string;
  matrix: string;
  blend: string;
  eq: string;
  alpha: string;
}

function declareControls(g: Graph, tokens: number): ControlInputs {
  const edit = g.input("edit_index", DType.int64, [1]);
  return {
    src: g.input("src_index", DType.int64, [1]),
    edit,
    editRow: g.op("Reshape", [edit, g.constInt64([1, 1])]),
    matrix: g.input("cross_matrix", DType.float, [tokens, tokens]),
    blend: g.input("cross_blend", DType.float, [tokens]),
    eq: g.input("cross_eq", DType.float, [tokens]),
    alpha: g.input("cross_alpha", DType.float, [tokens]),
  };
}

/** The feeds of the inputs declareControls makes (and of the mask inputs), for a graph with `inputNames`. */
export function controlFeeds(c: UnetControls, frames: number, inputNames: readonly string[]): Record<string, ort.Tensor> {
  const T = c.crossEq.length;
  const feeds: Record<string, ort.Tensor> = {
    src_index: new ort.Tensor("int64", BigInt64Array.of(BigInt(c.sourceBranch)), [1]),
    edit_index: new ort.Tensor("int64", BigInt64Array.of(BigInt(c.editBranch)), [1]),
    cross_matrix: new ort.Tensor("float32", c.crossMatrix, [T, T]),
    cross_blend: new ort.Tensor("float32", c.crossBlend, [T]),
    cross_eq: new ort.Tensor("float32", c.crossEq, [T]),
    cross_alpha: new ort.Tensor("float32", c.crossAlpha, [T]),
  };
  for (const [name, m] of c.selfMasks) feeds[name] = new ort.Tensor("float32", m, [frames, m.length / frames]);
  // A graph with no controlled layer declares no control inputs.
  const declared = new Set(inputNames);
  return Object.fromEntries(Object.entries(feeds).filter(([name]) => declared.has(name)));
}

/**
 * Controls that fuse nothing: every branch keeps its own attention (the plain UNet). Branch 0 goes through
 * the fusion, but with α = 0 and self masks of 1 it gets exactly its own probabilities back (x·1 + y·0 = x).
 */
export function neutralControls(branches: number, tokens: number): UnetControls {
  return {
    branches,
    editBranch: 0,
    sourceBranch: 0,
    crossMatrix: new Float32Array(tokens * tokens),
    crossBlend: new Float32Array(tokens),
    crossEq: new Float32Array(tokens).fill(1),
    crossAlpha: new Float32Array(tokens),
    selfMasks: new Map(),
  };
}

/** The hook that fuses attention at the controlled layers of `layers`, and what it controlled. */
export function attentionFusion(
  layers: readonly AttentionLayer[],
  tokens: number,
): {
  hook: AttentionHook;
  /** Each controlled cross-attention layer's probabilities before fusion, [B·F, heads, Lq, T], in forward order. */
  crossProbs: { layer: AttentionLayer; probs: string }[];
} {
  const byModule = new Map(layers.map((l) => [l.module, l]));
  const crossProbs: { layer: AttentionLayer; probs: string }[] = [];
  const declaredMasks = new Set<string>();
  let inputs: ControlInputs | undefined;

  const select = (site: AttentionSite): boolean => {
    const layer = byModule.get(site.module);
    if (!layer?.controlled) return false;
    if (site.height !== layer.height || site.width !== layer.width)
      throw new Error(`attention fusion: ${site.module} is built for another latent size than its layer list`);
    return true;
  };
  const output = (site: AttentionSite, probs: string, values: string, g: Graph, frames?: string): string => {
    if (!frames) throw new Error("attention fusion needs the video UNet");
    const layer = byModule.get(site.module)!;
    const [h, w] = [layer.height, layer.width];
    if (layer.kind === "cross") crossProbs.push({ layer, probs });
    inputs ??= declareControls(g, tokens);
    const byBranch = (x: string): string => {
      const dims = g.op("Concat", [g.constInt64([-1]), frames, g.op("Slice", [g.op("Shape", [x]), g.constInt64([1]), g.constInt64([4])])], {
        axis: 0,
      });
      return g.op("Reshape", [x, dims]);
    };
    const p = byBranch(probs); // [B, F, heads, Lq, Lk]
    const v = byBranch(values); // [B, F, heads, Lk, d]
    const editValues = g.op("Gather", [v, inputs.edit], { axis: 0 }); // [1, F, heads, Lk, d]
    let out: string; // every branch's own attention, [B, F, heads, Lq, d]
    let fused: string; // the edit branch's output, [1, F, heads, Lq, d]
    if (layer.kind === "cross") {
      out = g.op("MatMul", [p, v]);
      const one = g.constFloat([1], []);
      const src = g.op("Gather", [p, inputs.src], { axis: 0 }); // [1, F, heads, Lq, T]
      const edit = g.op("Gather", [p, inputs.edit], { axis: 0 });
      const mapped = g.op("MatMul", [src, inputs.matrix]); // P_src · M
      const refined = g.op("Add", [g.op("Mul", [mapped, inputs.blend]), g.op("Mul", [edit, g.op("Sub", [one, inputs.blend])])]);
      const replaced = g.op("Mul", [refined, inputs.eq]);
      const probsFused = g.op("Add", [g.op("Mul", [replaced, inputs.alpha]), g.op("Mul", [edit, g.op("Sub", [one, inputs.alpha])])]);
      fused = g.op("MatMul", [probsFused, editValues]);
    } else {
      const name = selfMaskInput(h, w);
      if (!declaredMasks.has(name)) {
        declaredMasks.add(name);
        g.input(name, DType.float, ["frames", h * w]);
      }
      // m is constant along each query's keys, so (m ⊙ P_edit + (1 − m) ⊙ P_src) · V_edit =
      // m ⊙ (P_edit · V_edit) + (1 − m) ⊙ (P_src · V_edit): fusing the outputs ([Lq, d]) instead of the
      // probabilities ([Lq, Lk], 64 times larger at the world model's 16² layers) saves copying them. One
      // product reads the probabilities once for both: P · [V_own | V_edit].
      const values2 = g.op("Concat", [v, g.op("Expand", [editValues, g.op("Shape", [v])])], { axis: -1 }); // [B, F, heads, Lk, 2d]
      const [own, withEdit] = g.opN("Split", [g.op("MatMul", [p, values2])], 2, { axis: -1 }); // [B, F, heads, Lq, d] each
      out = own;
      const m = g.op("Reshape", [name, g.constInt64([1, -1, 1, h * w, 1])]); // [1, F, 1, Lq, 1]
      const edit = g.op("Gather", [own, inputs.edit], { axis: 0 }); // P_edit · V_edit
      const fromSource = g.op("Gather", [withEdit, inputs.src], { axis: 0 }); // P_src · V_edit
      fused = g.op("Add", [g.op("Mul", [m, edit]), g.op("Mul", [g.op("Sub", [g.constFloat([1], []), m]), fromSource])]);
    }
    // Only the edit branch changes: its fused output is written over it in a copy of the outputs.
    const updated = g.op("ScatterND", [out, inputs.editRow, fused]);
    return g.op("Reshape", [
      updated,
      g.op("Concat", [g.constInt64([-1]), g.op("Slice", [g.op("Shape", [updated]), g.constInt64([2]), g.constInt64([5])])], { axis: 0 }),
    ]); // [B·F, heads, Lq, d]
  };
  return { hook: { select, output }, crossProbs };
}
