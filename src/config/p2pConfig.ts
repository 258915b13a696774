// One entry of FateZero's `editing_config.p2p_config` → P2pOptions. A key that is absent takes FateZero's
// default (DEFAULT_P2P), except the two step windows, which FateZero's configs must give.
import { DEFAULT_P2P, type CrossReplaceSteps, type P2pOptions } from "../fatezero/editOptions";
import { WHOLE_SCHEDULE } from "../fatezero/stepWindows";
import { BOOLEAN, NUMBER, STRING, show, type ConfigTree, type KeyPath } from "./configTree";
import { MAX_EQUALIZER_WORDS } from "./limits";
import { EQUALIZER_VALUE, STEP_FRACTION, STEP_WINDOW } from "./values";

/** The keys FateZero reads from a p2p_config entry; anything else is refused as a likely typo. */
export const P2P_KEYS = [
  "is_replace_controller",
  "cross_replace_steps",
  "self_replace_steps",
  "blend_words",
  "blend_th",
  "blend_self_attention",
  "blend_latents",
  "eq_params",
  "use_inversion_attention",
  "save_self_attention",
] as const;

/** Read the p2p_config entry at `path`; `forcedInversionAttention` is editing_config's value, which FateZero forces onto every entry. */
export function readP2pEntry(
  tree: ConfigTree,
  path: KeyPath,
  forcedInversionAttention: boolean,
  warn: (message: string) => void,
): P2pOptions {
  const known: readonly string[] = P2P_KEYS;
  for (const key of tree.keys(path)) {
    if (!known.includes(key)) tree.fail([...path, key], `unknown p2p_config key; known keys: ${P2P_KEYS.join(", ")}`);
  }
  const own = tree.optional([...path, "use_inversion_attention"], BOOLEAN);
  if (own !== undefined && own !== forcedInversionAttention) {
    warn(
      `${tree.sourceName}: ${[...path, "use_inversion_attention"].join(".")}: ` +
        `overridden by editing_config.use_inversion_attention (${forcedInversionAttention}), as FateZero does`,
    );
  }
  tree.optional([...path, "save_self_attention"], BOOLEAN);
  const p2p: P2pOptions = {
    isReplaceController: tree.optional([...path, "is_replace_controller"], BOOLEAN) ?? DEFAULT_P2P.isReplaceController,
    crossReplaceSteps: readCrossSteps(tree, [...path, "cross_replace_steps"]),
    selfReplaceSteps: readWindow(tree, [...path, "self_replace_steps"]),
    blendTh: readBlendTh(tree, [...path, "blend_th"]),
    blendSelfAttention: tree.optional([...path, "blend_self_attention"], BOOLEAN) ?? DEFAULT_P2P.blendSelfAttention,
    blendLatents: tree.optional([...path, "blend_latents"], BOOLEAN) ?? DEFAULT_P2P.blendLatents,
  };
  const blendWords = readBlendWords(tree, [...path, "blend_words"]);
  if (blendWords) p2p.blendWords = blendWords;
  const eqParams = readEqParams(tree, [...path, "eq_params"], warn);
  if (eqParams) p2p.eqParams = eqParams;
  return p2p;
}

/** A step window: an end fraction, or [start, end] fractions. */
function readWindow(tree: ConfigTree, path: KeyPath): number | [number, number] {
  const v = tree.get(path);
  if (Array.isArray(v)) {
    if (v.length !== 2) tree.fail(path, `expected a fraction or [start, end] fractions, got ${show(v)}`);
    const [a, b] = [tree.read([...path, "0"], STEP_FRACTION), tree.read([...path, "1"], STEP_FRACTION)];
    // Both ends are fractions by now, so the window's schema can only refuse their order.
    if (!STEP_WINDOW.test([a, b])) tree.fail(path, `start ${a} is after end ${b}`);
    return [a, b];
  }
  return tree.read(path, STEP_FRACTION);
}

/** cross_replace_steps: a window, or per word with `default_` (FateZero fills a missing default_ with the whole schedule). */
function readCrossSteps(tree: ConfigTree, path: KeyPath): CrossReplaceSteps {
  const v = tree.get(path);
  if (v === null || typeof v !== "object" || Array.isArray(v)) return readWindow(tree, path);
  const keys = tree.keys(path);
  if (keys.length === 1 && keys[0] === "default_") return readWindow(tree, [...path, "default_"]);
  const perWord: Record<string, number | [number, number]> = { default_: [...WHOLE_SCHEDULE] };
  for (const key of keys) perWord[key] = readWindow(tree, [...path, key]);
  return perWord;
}

function readBlendTh(tree: ConfigTree, path: KeyPath): [number, number] {
  if (tree.isAbsent(path)) return [...DEFAULT_P2P.blendTh];
  const v = tree.get(path);
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => NUMBER.test(x)))
    tree.fail(path, `expected two numbers [attention, latent], got ${show(v)}`);
  return [v[0], v[1]];
}

/** A list of words; a lone string is one word (FateZero wraps it the same way). */
function readWords(tree: ConfigTree, path: KeyPath): string[] {
  if (typeof tree.get(path) === "string") return [tree.read(path, STRING)];
  return tree.items(path).map((p) => tree.read(p, STRING));
}

/** blend_words: [[source words], [target words]]; 'None' or null means none; a single list has no target words. */
function readBlendWords(tree: ConfigTree, path: KeyPath): [string[], string[]] | undefined {
  const v = tree.get(path);
  if (v === undefined || v === null || v === "None") return undefined;
  if (!Array.isArray(v) || v.length < 1 || v.length > 2)
    tree.fail(path, `expected [[source words], [target words]] or 'None', got ${show(v)}`);
  const [source, target] = tree.items(path).map((p) => readWords(tree, p));
  return [source, target ?? []];
}

/** eq_params: {words, values}; extra values are dropped with a warning (FateZero's zip), a word without a value is an error. */
function readEqParams(tree: ConfigTree, path: KeyPath, warn: (message: string) => void): { words: string[]; values: number[] } | undefined {
  if (tree.isAbsent(path)) return undefined;
  for (const key of tree.keys(path)) {
    if (key !== "words" && key !== "values") tree.fail([...path, key], "unknown eq_params key; known keys: words, values");
  }
  const words = readWords(tree, [...path, "words"]);
  if (words.length > MAX_EQUALIZER_WORDS)
    tree.fail([...path, "words"], `${words.length} words; a prompt has at most ${MAX_EQUALIZER_WORDS}`);
  const values = tree.items([...path, "values"]).map((p) => tree.read(p, EQUALIZER_VALUE));
  if (words.length > values.length) {
    tree.fail(
      [...path, "values"],
      `${words.length} words but ${values.length} values: "${words[values.length]}" would silently not be reweighted`,
    );
  }
  if (words.length !== values.length) {
    const n = Math.min(words.length, values.length);
    warn(
      `${tree.sourceName}: ${path.join(".")}: ${words.length} words but ${values.length} values; ` +
        `using the first ${n} pairs, as FateZero's zip does`,
    );
    return { words: words.slice(0, n), values: values.slice(0, n) };
  }
  return { words, values };
}
