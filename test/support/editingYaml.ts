// A minimal FateZero edit config, for tests of one editing_config key.

/** A config of two edits of "a jeep" with guidance 7.5 and `editing` (indented lines) added to editing_config. */
export function editingYaml(editing: string): string {
  return (
    "dataset_config:\n  path: v.mp4\n  prompt: a jeep\n" +
    `editing_config:\n  num_inference_steps: 10\n  guidance_scale: 7.5\n  editing_prompts: ['a jeep', 'a red jeep']\n${editing}`
  );
}
