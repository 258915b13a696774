// Inversion attention fusion inside the ONNX graph (DESIGN §2). The edit UNet runs a batch of branches
// ([uncond, edit, source] or, for the reconstruction ablation, [uncond src, uncond edit, src, edit]);
// at every controlled layer the edit branch's attention probabilities are fused with the source
// branch's, per frame and head, as FateZero's AttentionControlEdit does:
//   cross: P' = α ⊙ ((P_src · M) ⊙ a + P_edit ⊙ (1 − a)) ⊙ eq + (1 − α) ⊙ P_edit
//          (refine: M one-hot of the token mapper, a = its alphas; replace: M the word-swap matrix, a = 1)
//   self:  P' = m ⊙ P_edit + (1 − m) ⊙ P_src   (m per frame and query: 1 keeps the edit, 0 the source;
//          outside the self-replace window m = 1, without blend words m = 0 inside it)
// All other branches pass through untouched. The controls are graph inputs, set per step.
import { DType, type Graph } from "../onnx/graph";
import type { AttentionHook, AttentionSite } from "../models/unetTransformer";

/** Names of the per-step control inputs of a fused graph. */
export const FUSION_INPUTS = {
  srcIndex: "src_index",
  editIndex: "edit_index",
  editOneHot: "edit_onehot",
  crossMatrix: "cross_matrix",
  crossBlend: "cross_blend",
  crossEq: "cross_eq",
  crossAlpha: "cross_alpha",
} as const;

/** Name of the self-attention mask input for a layer size. */
export function selfMaskInput(height: number, width: number): string {
  return `self_mask_${height}x${width}`;
}

/** The hook that inserts fusion at every layer with at most `queryLimit` queries per frame, and what it controlled. */
export function attentionFusion(queryLimit: number): {
  hook: AttentionHook;
  controlled: AttentionSite[];
  maskSizes: [number, number][];
  /** Each controlled cross-attention layer's probabilities before fusion, [B·F, heads, Lq, 77]. */
  crossProbs: { site: AttentionSite; probs: string }[];
} {
  const controlled: AttentionSite[] = [];
  const crossProbs: { site: AttentionSite; probs: string }[] = [];
  const maskSizes: [number, number][] = [];
  let shared: { src: string; edit: string; onehot: string } | undefined;
  let cross: { matrix: string; blend: string; eq: string; alpha: string } | undefined;

  const select = (site: AttentionSite): boolean => {
    if (!site.size || !site.frames) throw new Error("attention fusion needs the video UNet built for a fixed latent size");
    return site.size[0] * site.size[1] <= queryLimit;
  };
  const rewrite = (site: AttentionSite, probs: string, g: Graph): string => {
    const [h, w] = site.size!;
    if (!controlled.includes(site)) controlled.push(site); // self-attention is rewritten once per head
    if (site.kind === "cross") crossProbs.push({ site, probs });
    shared ??= {
      src: g.input(FUSION_INPUTS.srcIndex, DType.int64, [1]),
      edit: g.input(FUSION_INPUTS.editIndex, DType.int64, [1]),
      onehot: g.op("Reshape", [g.input(FUSION_INPUTS.editOneHot, DType.bool, ["branches"]), g.constInt64([-1, 1, 1, 1, 1])]), // [B, 1, 1, 1, 1]
    };
    const dims = g.op("Concat", [g.constInt64([-1]), site.frames!, g.op("Slice", [g.op("Shape", [probs]), g.constInt64([1]), g.constInt64([4])])], { axis: 0 });
    const p = g.op("Reshape", [probs, dims]); // [B, F, heads, Lq, Lk]
    const src = g.op("Gather", [p, shared.src], { axis: 0 }); // [1, F, heads, Lq, Lk]
    const edit = g.op("Gather", [p, shared.edit], { axis: 0 });
    let fused: string;
    if (site.kind === "cross") {
      cross ??= {
        matrix: g.input(FUSION_INPUTS.crossMatrix, DType.float, [77, 77]),
        blend: g.input(FUSION_INPUTS.crossBlend, DType.float, [77]),
        eq: g.input(FUSION_INPUTS.crossEq, DType.float, [77]),
        alpha: g.input(FUSION_INPUTS.crossAlpha, DType.float, [77]),
      };
      const one = g.constFloat([1], []);
      const mapped = g.op("MatMul", [src, cross.matrix]); // P_src · M
      const refined = g.op("Add", [g.op("Mul", [mapped, cross.blend]), g.op("Mul", [edit, g.op("Sub", [one, cross.blend])])]);
      const replaced = g.op("Mul", [refined, cross.eq]);
      fused = g.op("Add", [g.op("Mul", [replaced, cross.alpha]), g.op("Mul", [edit, g.op("Sub", [one, cross.alpha])])]);
    } else {
      const name = selfMaskInput(h, w);
      if (!maskSizes.some(([mh, mw]) => mh === h && mw === w)) {
        maskSizes.push([h, w]);
        g.input(name, DType.float, ["frames", h * w]);
      }
      const m = g.op("Reshape", [name, g.constInt64([1, -1, 1, h * w, 1])]); // [1, F, 1, Lq, 1]
      fused = g.op("Add", [g.op("Mul", [m, edit]), g.op("Mul", [g.op("Sub", [g.constFloat([1], []), m]), src])]);
    }
    const updated = g.op("Where", [shared.onehot, fused, p]); // only the edit branch changes
    return g.op("Reshape", [updated, g.op("Shape", [probs])]);
  };
  return { hook: { select, rewrite }, controlled, maskSizes, crossProbs };
}
