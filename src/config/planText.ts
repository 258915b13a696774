// The readable form of an edit plan (`fatezero edit --dry-run`).
import type { AttentionLayer } from "../fatezero/attentionSites";
import type { EditPlan, PlannedEdit, PlannedWord } from "./editPlan";
import type { StepRange } from "../fatezero/stepWindows";

const ATTENTION_TEXT = {
  inversion: "fused with the source attention replayed on the inverted latents (FateZero)",
  reconstruction: "fused with the source attention of a reconstruction run (prompt-to-prompt ablation)",
  none: "no attention control (plain editing)",
};

const NEGATIVE_PROMPT_TEXT = {
  empty: "the empty prompt",
  source: "the source prompt (negative-prompt inversion)",
};

const PRECISION_TEXT = {
  fp32: "precision fp32",
  int8: "precision int8 (linear layers and convolutions; attention, softmax, norms and the fusion in fp32)",
};

/** The plan as multi-line text. */
export function formatEditPlan(plan: EditPlan): string {
  const lines = [
    `edit plan for ${plan.config}`,
    `  model      ${plan.model}`,
    `  video      ${plan.video}, frames ${compactList(plan.frames)} (${plan.frames.length})` +
      (plan.frameChunk < plan.frames.length ? `, through the UNet in windows of ${plan.frameChunk} frames and their key frames` : ""),
    `  size       ${plan.size[0]}×${plan.size[1]} px (latent ${plan.latentSize[0]}×${plan.latentSize[1]})`,
    `  denoising  ${plan.steps} DDIM steps, guidance ${plan.guidanceScale} against ${NEGATIVE_PROMPT_TEXT[plan.negativePrompt]}, seed ${plan.seed}, sample seeds ${plan.sampleSeeds.join(", ")}`,
    `  attention  ${ATTENTION_TEXT[plan.attention]}; controlled layers: query ≤ ${plan.controlQueryLimit} per frame`,
    `  unet       self-attention keys from frames [${plan.unet.selectors.join(", ")}] ` +
      `in blocks of ≥ ${plan.unet.leastScChannel} channels${plan.unet.lora === null ? "" : `, LoRA rank ${plan.unet.lora}`}; ` +
      PRECISION_TEXT[plan.unetPrecision],
    `  inversion  ${JSON.stringify(plan.inversionPrompt)}, ${inversionText(plan.inversionIterations)}`,
  ];
  if (plan.out !== null) lines.push(`  output     ${plan.out}`);
  for (const edit of plan.edits) lines.push(...formatEdit(edit, plan.steps, plan.attention !== "none"));
  lines.push("attention layers (per frame):", ...formatLayers(plan.layers));
  if (plan.warnings.length) lines.push("warnings:", ...plan.warnings.map((w) => `  - ${w}`));
  return lines.join("\n");
}

function inversionText(iterations: number): string {
  if (iterations === 0) return "plain DDIM (FateZero)";
  return `DDIM with ${iterations} fixed-point iteration${iterations === 1 ? "" : "s"} a step (${iterations + 1} UNet calls a step)`;
}

function formatEdit(e: PlannedEdit, steps: number, controlled: boolean): string[] {
  const kind = e.reconstruction ? " (reconstruction)" : "";
  const lines = [`edit ${e.index}${kind}: ${JSON.stringify(e.prompt)}`, `  source     ${JSON.stringify(e.sourcePrompt)}`];
  if (!controlled) return lines;
  const why =
    e.controller === "replace"
      ? "word swap"
      : e.spec.p2p.isReplaceController
        ? `word counts differ: ${e.wordCounts.source} vs ${e.wordCounts.target}`
        : "is_replace_controller false";
  const reweight = e.reweight.length
    ? `, reweight ${e.reweight.map((w) => `${w.word}×${w.value}${w.inPrompt ? "" : " (not in prompt)"}`).join(" ")}`
    : "";
  lines.push(`  controller ${e.controller} (${why})${reweight}`);
  const perWord = e.cross.words.map((w) => `; ${word(w)}: ${window(w.steps, steps)}`).join("");
  lines.push(`  cross      ${window(e.cross.steps, steps)}${perWord}`);
  const b = e.blend;
  const selfUse = b?.selfAttention ? "blended with the mask" : "replaced by the source";
  lines.push(`  self       ${window(e.self.steps, steps)}, ${selfUse}`);
  if (b) {
    const uses =
      [b.selfAttention ? "self-attention" : "", b.latents ? "latents" : ""].filter(Boolean).join(" + ") ||
      "nothing (neither blend_self_attention nor blend_latents)";
    const target = b.targetWords.length ? `, target words ${b.targetWords.join(" ")}` : "";
    lines.push(`  blend      mask of ${b.sourceWords.map(word).join(" ")} > ${b.threshold}${target}; blends ${uses}`);
  }
  return lines;
}

function formatLayers(layers: AttentionLayer[]): string[] {
  const rows = [["place", "level", "module", "query", "keys", "heads", "frames", "controlled"]];
  for (const l of layers) {
    rows.push([
      l.place,
      String(l.level),
      l.module,
      `${l.height}×${l.width}=${l.queryLength}`,
      String(l.keyLength),
      String(l.heads),
      l.kind === "cross" ? "text" : l.selectors.length ? `[${l.selectors.join(",")}]` : "own",
      l.controlled ? `yes ${l.store!.key}[${l.store!.index}]${l.maskSource ? " mask" : ""}` : "no",
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map(
    (r) =>
      `  ${r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join("  ")
        .trimEnd()}`,
  );
}

function word(w: PlannedWord): string {
  return w.inPrompt ? w.word : `${w.word} (not in prompt)`;
}

/** "0–24" style text for a range, or "none". */
function formatStepRange(r: StepRange): string {
  return r.end <= r.start ? "none" : r.end - r.start === 1 ? `${r.start}` : `${r.start}–${r.end - 1}`;
}

function window(r: StepRange, steps: number): string {
  return `steps ${formatStepRange(r)} (${Math.max(r.end - r.start, 0)} of ${steps})`;
}

/** "0–7" for consecutive runs, else the first values and a count. */
function compactList(values: number[]): string {
  if (values.length > 1 && values.every((v, i) => i === 0 || v === values[i - 1] + 1)) return `${values[0]}–${values[values.length - 1]}`;
  return values.length > 12 ? `${values.slice(0, 12).join(", ")}, …` : values.join(", ");
}
