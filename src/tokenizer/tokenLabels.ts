// Readable labels for the token positions of a prompt (what the columns of the attention maps are).
import type { ClipTokenizer } from "./clipTokenizer";

/** The text of each token of `prompt`, SOT first and EOT last (no padding; end-of-word spaces trimmed). */
export function tokenLabels(tokenizer: Pick<ClipTokenizer, "tokenize" | "decode">, prompt: string): string[] {
  const t = tokenizer.tokenize(prompt);
  return t.ids.slice(0, t.length).map((id) => tokenizer.decode([id]).trim());
}
