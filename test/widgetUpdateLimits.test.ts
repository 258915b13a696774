// A view's `update` is untrusted input: keys named like Object.prototype's members are plain unknown keys,
// values beyond the CLI's limits are refused, and in both cases the rest of the update still applies and the
// views are told the kernel's values.
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { parseFatezeroConfig } from "../src/config/fatezeroConfig";
import { MAX_EQUALIZER_VALUE, MAX_EQUALIZER_WORDS, MAX_GUIDANCE_SCALE, MAX_PROMPT_CHARS } from "../src/config/limits";
import type { SchemaKind } from "../src/config/configTree";
import { GUIDANCE_SCALE, PROMPT } from "../src/config/values";
import { ConfigError } from "../src/config/yamlDocument";
import { CONTROL_TARGET, installWidgets, WidgetModel } from "../widgets/comm";
import { EditPanel } from "../widgets/kernelSide";
import { FakeCommManager, type FakeComm } from "./support/fakeComms";

const PROTOTYPE_KEYS = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"];

/** Deliver one `update` from a view with console.error captured; returns the logged lines. */
function fromView(comm: FakeComm, state: Record<string, unknown>): string[] {
  const logged: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args.map(String).join(" "));
  try {
    comm.fromFrontend({ method: "update", state, buffer_paths: [] });
  } finally {
    console.error = original;
  }
  return logged;
}

/** A wire update holding every prototype key (JSON.parse makes "__proto__" an own key, as a frontend's message does). */
function prototypeKeys(extra: Record<string, unknown>): Record<string, unknown> {
  const hostile = JSON.parse(`{${PROTOTYPE_KEYS.map((k) => `"${k}": {"polluted": true}`).join(", ")}}`) as Record<string, unknown>;
  return Object.assign(hostile, extra);
}

test("N11: a widget update with keys constructor, toString, __proto__, hasOwnProperty is refused key by key; the valid keys apply", () => {
  const comms = new FakeCommManager();
  const model = new WidgetModel<{ value: number; label: string }>(
    { _model_name: "SliderModel", value: 3, label: "kernel only" },
    { comms, frontendKeys: () => ({ value: z.number().int().min(0).max(10) }) },
  );
  const comm = comms.comm(model.modelId);
  const seen: number[] = [];
  model.onChange("value", (v) => seen.push(v));
  const logged = fromView(comm, prototypeKeys({ value: 7, label: "mine" }));
  assert.deepEqual([model.get("value"), model.get("label"), seen], [7, "kernel only", [7]]);
  assert.deepEqual(
    comm.sent.map((m) => [m.data.method, m.data.state]),
    [
      ["echo_update", { value: 7 }],
      ["update", { label: "kernel only" }],
    ],
    "the valid key is echoed; the view gets the kernel's value of the refused key it shares with the model",
  );
  assert.deepEqual(
    logged.map((line) => /refused (\S+) = .*: only the kernel sets it$/.exec(line)?.[1]),
    [...PROTOTYPE_KEYS, "label"],
    "each refused key is logged with why",
  );
  assert.deepEqual(Object.keys(model.state()).sort(), [...Object.keys(new WidgetModel({}, { comms }).state()), "label", "value"].sort());
  assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype was touched");
});

test("N11: a model without frontend keys stores prototype-named keys as its own values, never as prototypes", () => {
  const comms = new FakeCommManager();
  const model = new WidgetModel<Record<string, unknown>>({ _model_name: "FreeModel", value: 1 }, { comms });
  const logged = fromView(comms.comm(model.modelId), prototypeKeys({ value: 2 }));
  assert.deepEqual(logged, []);
  const state = model.state();
  for (const key of PROTOTYPE_KEYS) assert.deepEqual(Object.getOwnPropertyDescriptor(state, key)?.value, { polluted: true }, key);
  assert.equal(state.value, 2);
  assert.equal((state as { polluted?: unknown }).polluted, undefined, "__proto__ is a value, not the state's prototype");
});

test("N11: EditPanel takes the prompt of an update that also carries prototype keys", () => {
  const comms = new FakeCommManager();
  const panel = EditPanel.create({ comms, sourcePrompt: "a silver jeep", prompt: "a silver jeep" });
  const logged = fromView(comms.comm(panel.modelId), prototypeKeys({ prompt: "a red jeep" }));
  assert.equal(panel.get("prompt"), "a red jeep");
  assert.equal(logged.length, PROTOTYPE_KEYS.length);
  assert.equal(panel.get("constructor" as "prompt"), undefined);
});

test("N11: request_states lists a model whose id (the frontend's comm id) is __proto__", () => {
  const comms = new FakeCommManager();
  installWidgets(comms);
  const model = new WidgetModel({ label: "odd id" }, { comms, modelId: "__proto__" });
  const control = comms.openFromFrontend(CONTROL_TARGET, {});
  control.fromFrontend({ method: "request_states" });
  const states = JSON.parse(JSON.stringify(control.sent[0].data.states)) as Record<string, { state: { label: string } }>;
  assert.deepEqual(Object.keys(states), [model.modelId]);
  assert.equal(states[model.modelId].state.label, "odd id");
});

test("N12: EditPanel refuses guidance 1e308, a 200 000-entry equalizer and a 5 MB prompt; the views get the kernel's values", () => {
  const comms = new FakeCommManager();
  const panel = EditPanel.create({ comms, sourcePrompt: "a silver jeep", prompt: "a red jeep" });
  const comm = comms.comm(panel.modelId);
  const before = panel.state();
  const hostile = {
    guidance_scale: 1e308,
    equalizer: Array.from({ length: 200_000 }, (_, i) => ({ word: `w${i}`, value: 2 })),
    prompt: "a red jeep ".repeat(500_000),
    source_prompt: "x".repeat(MAX_PROMPT_CHARS + 1),
  };
  const logged = fromView(comm, { ...hostile, controller: "refine" });
  assert.deepEqual(panel.state(), { ...before, controller: "refine" }, "only the valid key applied");
  assert.deepEqual(
    comm.sent.map((m) => [m.data.method, m.data.state]),
    [
      ["echo_update", { controller: "refine" }],
      ["update", { guidance_scale: 7.5, equalizer: [], prompt: "a red jeep", source_prompt: "a silver jeep" }],
    ],
  );
  assert.equal(logged.length, 4);
  for (const line of logged) assert.ok(line.length < 1000, `a refusal is logged briefly: ${line.slice(0, 200)}…`);
});

test("N12: EditPanel takes values at the CLI's limits and refuses the next step past them", () => {
  const comms = new FakeCommManager();
  const panel = EditPanel.create({ comms, sourcePrompt: "a silver jeep", prompt: "a red jeep" });
  const comm = comms.comm(panel.modelId);
  const equalizer = (n: number, value: number) => Array.from({ length: n }, (_, i) => ({ word: `w${i}`, value }));
  const atLimits = {
    guidance_scale: MAX_GUIDANCE_SCALE,
    equalizer: equalizer(MAX_EQUALIZER_WORDS, -MAX_EQUALIZER_VALUE),
    prompt: "p".repeat(MAX_PROMPT_CHARS),
  };
  assert.deepEqual(fromView(comm, atLimits), []);
  assert.deepEqual([panel.get("guidance_scale"), panel.get("equalizer").length, panel.get("prompt").length], [100, 75, 4096]);
  const past = [
    { guidance_scale: MAX_GUIDANCE_SCALE + 0.5 },
    { guidance_scale: -1 },
    { equalizer: equalizer(MAX_EQUALIZER_WORDS + 1, 2) },
    { equalizer: equalizer(1, MAX_EQUALIZER_VALUE * 2) },
    { equalizer: [{ word: "w".repeat(MAX_PROMPT_CHARS + 1), value: 2 }] },
    { prompt: "p".repeat(MAX_PROMPT_CHARS + 1) },
  ];
  for (const state of past) assert.equal(fromView(comm, state).length, 1, JSON.stringify(state).slice(0, 80));
  assert.deepEqual([panel.get("guidance_scale"), panel.get("equalizer").length, panel.get("prompt").length], [100, 75, 4096]);
});

test("N12: a YAML config holds the same limits, naming the key", () => {
  const config = (editing: string) =>
    "dataset_config:\n  path: v.mp4\n  prompt: a jeep\n" +
    `editing_config:\n  num_inference_steps: 10\n  editing_prompts: ['a jeep', 'a red jeep']\n${editing}`;
  const refused = (editing: string, message: RegExp) =>
    assert.throws(
      () => parseFatezeroConfig(config(editing), "hostile.yaml"),
      (e) => e instanceof ConfigError && message.test(e.message),
      editing.slice(0, 80),
    );
  refused("  guidance_scale: 1e308\n", /editing_config\.guidance_scale.*a number in 0…100/);
  refused(`  source_prompt: '${"x".repeat(MAX_PROMPT_CHARS + 1)}'\n`, /editing_config\.source_prompt.*at most 4096 characters/);
  const eq = (words: number, value: number) =>
    "  prompt2prompt_edit: true\n  p2p_config:\n" +
    "    0: { cross_replace_steps: 0.5, self_replace_steps: 0.5 }\n" +
    "    1:\n      cross_replace_steps: 0.5\n      self_replace_steps: 0.5\n      eq_params:\n" +
    `        words: [${Array.from({ length: words }, () => "jeep").join(", ")}]\n` +
    `        values: [${Array.from({ length: words }, () => value).join(", ")}]\n`;
  refused(eq(MAX_EQUALIZER_WORDS + 1, 2), /eq_params\.words.*76 words; a prompt has at most 75/);
  refused(eq(1, 1e308), /eq_params\.values\.0.*a number in -100…100/);
  assert.doesNotThrow(() => parseFatezeroConfig(config(`  guidance_scale: ${MAX_GUIDANCE_SCALE}\n${eq(2, 10)}`), "ok.yaml"));
});

/** Run `body` while counting the checks of `value` by the schema `kind` itself (whoever calls it). */
function countChecks<T>(kind: SchemaKind<T>, value: unknown, body: (checks: () => number) => void): void {
  const original = kind.schema.safeParse;
  let count = 0;
  kind.schema.safeParse = (v, params) => {
    if (v === value) count++;
    return original.call(kind.schema, v, params);
  };
  try {
    body(() => count);
  } finally {
    kind.schema.safeParse = original;
  }
}

test("one schema per value: the YAML reader and EditPanel refuse the same guidance scale and prompt through the same schema object", () => {
  const config = (editing: string) =>
    "dataset_config:\n  path: v.mp4\n  prompt: a jeep\n" +
    `editing_config:\n  num_inference_steps: 10\n  editing_prompts: ['a jeep', 'a red jeep']\n${editing}`;
  const comms = new FakeCommManager();
  const panel = EditPanel.create({ comms, sourcePrompt: "a silver jeep", prompt: "a red jeep" });
  const comm = comms.comm(panel.modelId);
  const shared = (kind: SchemaKind<unknown>, key: string, bad: unknown, yaml: string) =>
    countChecks(kind, bad, (checks) => {
      assert.throws(
        () => parseFatezeroConfig(config(yaml), "shared.yaml"),
        (e) => e instanceof ConfigError && e.message.includes(`editing_config.${key}: expected ${kind.what}, got`),
      );
      assert.equal(checks(), 1, `${key}: the YAML reader checked it with the shared schema`);
      assert.equal(fromView(comm, { [key]: bad }).length, 1, `${key}: the widget refused it`);
      assert.equal(checks(), 2, `${key}: the widget checked it with the same schema`);
    });
  shared(GUIDANCE_SCALE, "guidance_scale", MAX_GUIDANCE_SCALE + 1, `  guidance_scale: ${MAX_GUIDANCE_SCALE + 1}\n`);
  const long = "x".repeat(MAX_PROMPT_CHARS + 1);
  shared(PROMPT, "source_prompt", long, `  source_prompt: '${long}'\n`);
  assert.equal(panel.get("guidance_scale"), 7.5, "the panel kept its value");
});
