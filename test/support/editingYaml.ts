// A minimal FateZero edit config, for tests of one editing_config key.
import assert from "node:assert/strict";
import { parseFatezeroConfig } from "../../src/config/fatezeroConfig";
import { ConfigError } from "../../src/config/yamlDocument";

/** A config of two edits of "a jeep" with guidance 7.5 and `editing` (indented lines) added to editing_config. */
export function editingYaml(editing: string): string {
  return (
    "dataset_config:\n  path: v.mp4\n  prompt: a jeep\n" +
    `editing_config:\n  num_inference_steps: 10\n  guidance_scale: 7.5\n  editing_prompts: ['a jeep', 'a red jeep']\n${editing}`
  );
}

/** The edit loop a config with `editing` reads to. */
export function editingLoop(editing: string) {
  return parseFatezeroConfig(editingYaml(editing), "editing.yaml").loop;
}

/** A config with `editing` is refused with a ConfigError whose message matches. */
export function assertEditingRefused(editing: string, message: RegExp): void {
  assert.throws(
    () => parseFatezeroConfig(editingYaml(editing), "bad.yaml"),
    (e) => e instanceof ConfigError && message.test(e.message),
  );
}
