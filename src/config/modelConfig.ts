// FateZero's `model_config`: how `from_2d_model` inflates the 2D UNet into the video UNet. FateZero
// merges these keys into the UNet's config, so an unknown key would silently change the model there;
// here it is refused.
import { DEFAULT_INFLATION } from "../fatezero/editOptions";
import { parseSelectors, type FrameSelector } from "../networks/frameLayout";
import { BOOLEAN, intAtLeast, type ConfigTree, type KeyPath } from "./configTree";

/** The model_config keys this tool understands. */
export const MODEL_CONFIG_KEYS = [
  "lora",
  "SparseCausalAttention_index",
  "least_sc_channel",
  "temporal_downsample",
  "temporal_downsample_time",
] as const;

/** Inflation options: sparse-causal frame selectors, the channel count below which they are off, the LoRA rank. */
export interface ModelOptions {
  selectors: FrameSelector[];
  leastScChannel: number;
  lora?: number;
}

/** Read `model_config` (absent or null: FateZero's defaults, DEFAULT_INFLATION). */
export function readModelConfig(tree: ConfigTree, path: KeyPath): ModelOptions {
  const known: readonly string[] = MODEL_CONFIG_KEYS;
  for (const key of tree.keys(path)) {
    if (!known.includes(key)) tree.fail([...path, key], `unknown model_config key; known keys: ${MODEL_CONFIG_KEYS.join(", ")}`);
  }
  const at = (key: string): KeyPath => [...path, key];
  // Temporal downsampling changes the UNet's shape; the inflated UNet here keeps every frame.
  if (tree.optional(at("temporal_downsample"), BOOLEAN)) tree.fail(at("temporal_downsample"), "temporal downsampling is not supported");
  if ((tree.optional(at("temporal_downsample_time"), intAtLeast(0)) ?? 0) > 0) {
    tree.fail(at("temporal_downsample_time"), "temporal downsampling is not supported");
  }
  const selectorPath = at("SparseCausalAttention_index");
  let selectors: FrameSelector[] = [...DEFAULT_INFLATION.selectors];
  if (!tree.isAbsent(selectorPath)) {
    try {
      selectors = parseSelectors(tree.items(selectorPath).map((p) => tree.get(p)));
    } catch (e) {
      tree.fail(selectorPath, (e as Error).message.replace(/^SparseCausalAttention_index:\s*/, ""));
    }
  }
  const model: ModelOptions = {
    selectors,
    leastScChannel: tree.optional(at("least_sc_channel"), intAtLeast(0)) ?? DEFAULT_INFLATION.leastScChannel,
  };
  const lora = tree.optional(at("lora"), intAtLeast(1));
  if (lora !== undefined) model.lora = lora;
  return model;
}
