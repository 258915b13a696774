// Property tests over widget state updates, the widget protocol's untrusted input: whatever a frontend sends
// (any method, state, buffer paths and buffers), handling it never throws or rejects, never touches a prototype,
// keeps every view-settable value within its schema, and sends only JSON-serialisable state. A fixed seed and
// run count keep CI deterministic and bounded.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Buffers, Comm } from "../kernel/commTypes";
import { MAX_EQUALIZER_VALUE, MAX_EQUALIZER_WORDS, MAX_GUIDANCE_SCALE, MAX_PROMPT_CHARS } from "../src/config/limits";
import { WidgetModel } from "../widgets/comm";
import { EditPanel } from "../widgets/kernelSide";
import { FakeCommManager } from "./support/fakeComms";

const SEED = 1234;

/** A comm whose frontend side is the property: `deliver` hands the model one message and returns its handler's result. */
class RecordingComm implements Comm {
  readonly targetName = "jupyter.widget";
  readonly sent: { data: Record<string, unknown>; buffers: Buffers }[] = [];
  private handler: ((data: Record<string, unknown>, buffers: DataView[]) => unknown) | undefined;

  constructor(readonly commId: string) {}

  send(data: Record<string, unknown>, _metadata?: Record<string, unknown>, buffers: Buffers = []): void {
    this.sent.push({ data, buffers });
  }

  close(): void {}

  onMsg(handler: (data: Record<string, unknown>, buffers: DataView[]) => unknown): void {
    this.handler = handler;
  }

  onClose(): void {}

  deliver(data: unknown, buffers: DataView[]): unknown {
    return this.handler!(data as Record<string, unknown>, buffers);
  }
}

const PANEL_KEYS = ["source_prompt", "prompt", "controller", "equalizer", "guidance_scale", "running", "status", "done"];
const key = fc.oneof(
  fc.constantFrom(...PANEL_KEYS),
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "_model_name"),
  fc.string({ maxLength: 8 }),
);
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom("replace", "refine", 1e308, -1e308, MAX_GUIDANCE_SCALE, MAX_GUIDANCE_SCALE + 1, -0),
  fc.array(fc.record({ word: fc.string({ maxLength: 6 }), value: fc.double() }, { requiredKeys: [] }), { maxLength: 4 }),
  fc.nat(MAX_PROMPT_CHARS + 10).map((n) => "a".repeat(n)),
  fc.nat(MAX_EQUALIZER_WORDS + 5).map((n) => Array.from({ length: n }, () => ({ word: "w", value: 1 }))),
);
const bufferPath = fc.oneof(fc.array(fc.oneof(key, fc.nat(4), fc.constantFrom(-1, 1.5)), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }));
/** One message from a frontend, as it arrives after JSON parsing: "__proto__" keys are own keys. */
const message = fc
  .record({
    method: fc.oneof(fc.constantFrom("update", "update", "update", "request_state", "custom"), fc.jsonValue({ maxDepth: 1 })),
    state: fc.oneof(fc.dictionary(key, value, { maxKeys: 5 }), fc.jsonValue({ maxDepth: 2 })),
    buffer_paths: fc.oneof(fc.constant([]), fc.array(bufferPath, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
    content: fc.oneof(fc.record({ event: fc.constantFrom("cancel", "noise") }), fc.jsonValue({ maxDepth: 2 })),
  })
  .map((m) => JSON.parse(JSON.stringify(m)) as unknown);
const buffers = fc.array(
  fc.uint8Array({ maxLength: 8 }).map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength)),
  { maxLength: 3 },
);

/** Run `work` with console.error silenced (refusals are logged by design). */
async function quietly(work: () => Promise<void>): Promise<void> {
  const original = console.error;
  console.error = () => undefined;
  try {
    await work();
  } finally {
    console.error = original;
  }
}

/** Everything the kernel sent is JSON (binary values travel as buffers). */
function assertSentJson(comm: RecordingComm): void {
  for (const m of comm.sent) assert.doesNotThrow(() => JSON.stringify(m.data));
  comm.sent.length = 0;
}

test("widget updates: an EditPanel keeps its view-settable keys within their schemas whatever its views send", async () => {
  let n = 0;
  await quietly(() =>
    fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(message, buffers), { minLength: 1, maxLength: 4 }), async (messages) => {
        const comm = new RecordingComm(`panel-${n++}`);
        const panel = EditPanel.create({ comms: new FakeCommManager(), comm, sourcePrompt: "a jeep", prompt: "a red jeep" });
        const kernelOnly = { running: false, done: 0, total: 0, status: "ready", error: "" };
        for (const [data, bytes] of messages) {
          await comm.deliver(data, bytes);
          const s = panel.state();
          assert.equal(typeof s.source_prompt === "string" && s.source_prompt.length <= MAX_PROMPT_CHARS, true);
          assert.equal(typeof s.prompt === "string" && s.prompt.length <= MAX_PROMPT_CHARS, true);
          assert.ok(s.controller === "replace" || s.controller === "refine");
          assert.ok(s.guidance_scale >= 0 && s.guidance_scale <= MAX_GUIDANCE_SCALE);
          assert.ok(Array.isArray(s.equalizer) && s.equalizer.length <= MAX_EQUALIZER_WORDS);
          for (const e of s.equalizer) assert.ok(typeof e.word === "string" && Math.abs(e.value) <= MAX_EQUALIZER_VALUE);
          assert.deepEqual(
            Object.fromEntries(Object.keys(kernelOnly).map((k) => [k, s[k as keyof typeof s]])),
            kernelOnly,
            "keys only the kernel sets",
          );
          assert.equal(Object.hasOwn(s, "constructor") || Object.hasOwn(s, "__proto__"), false);
          assertSentJson(comm);
        }
        assert.equal(({} as Record<string, unknown>).word, undefined, "Object.prototype is untouched");
      }),
      { seed: SEED, numRuns: 300 },
    ),
  );
});

test("widget updates: a model a frontend owns stores any update's keys as its own values and never throws", async () => {
  let n = 0;
  await quietly(() =>
    fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(message, buffers), { minLength: 1, maxLength: 4 }), async (messages) => {
        const comm = new RecordingComm(`free-${n++}`);
        const model = new WidgetModel<Record<string, unknown>>({ _model_name: "FreeModel" }, { comms: new FakeCommManager(), comm });
        for (const [data, bytes] of messages) {
          const before = model.state();
          await comm.deliver(data, bytes);
          const after = model.state();
          assert.equal(Object.getPrototypeOf(after), Object.prototype, "the state's prototype is never replaced");
          // A model's values are its own keys only: nothing is inherited, neither Object's members nor a sent "__proto__".
          for (const k of ["constructor", "toString", "hasOwnProperty", "word", "value"]) {
            assert.deepEqual(model.get(k), Object.hasOwn(after, k) ? after[k] : undefined, k);
          }
          const m = data as { method?: unknown; state?: unknown };
          const update = m.method === "update" && typeof m.state === "object" && m.state !== null && !Array.isArray(m.state);
          // Keys only ever come from an update (an applied one adds its keys; a refused one changes nothing).
          if (!update) assert.deepEqual(after, before);
          for (const k of Object.keys(after)) assert.ok(Object.hasOwn(before, k) || (update && Object.hasOwn(m.state as object, k)), k);
          assertSentJson(comm);
        }
        assert.equal(({} as Record<string, unknown>).word, undefined, "Object.prototype is untouched");
      }),
      { seed: SEED, numRuns: 300 },
    ),
  );
});
