// Every component tensor of the public fixture is recomputed within tolerance by `fatezero reference`'s
// engine; pipeline items are reported (not silently passed) until the engine computes them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Fixture } from "../src/reference/fixture";
import { FixtureModels } from "../src/reference/fixtureModels";
import { planItem } from "../src/reference/referenceItems";
import { runReference, type ReferenceLine } from "../src/reference/runReference";
import { FIXTURE, tempDir } from "./sharedData";

const cacheDir = tempDir("ref-cache");

test("components of the public fixture match: tokenizer, text encoder, VAE, scheduler, UNet 2D and inflated", async () => {
  const lines: ReferenceLine[] = [];
  const counts = await runReference(FIXTURE, (l) => lines.push(l), { cacheDir, only: /^(scheduler|text|vae|unet2d|unet3d)\./ });
  const computed = lines.filter((l) => l.ok !== null);
  for (const l of computed) assert.equal(l.ok, true, `${l.name}: ${JSON.stringify(l)}`);
  const names = computed.map((l) => l.name);
  for (const n of [
    "text.token_ids",
    "text.last_hidden_state",
    "vae.posterior_mean",
    "vae.posterior_std",
    "vae.decoded_mean",
    "unet2d.noise_pred",
    "unet3d.default.noise_pred",
    "unet3d.teaser_mid.noise_pred",
  ]) {
    assert.ok(names.includes(n), `${n} was computed`);
  }
  assert.equal(counts.failed, 0);
  assert.ok(lines.filter((l) => l.ok === null).every((l) => /^input: /.test(l.reason ?? "")));
});

test("an unknown tensor name is reported as failed with a reason, never passed", async () => {
  const lines: ReferenceLine[] = [];
  const fx = new Fixture(FIXTURE);
  const plan = planItem("unknown.tensor", fx, new FixtureModels(fx.modelDir, cacheDir));
  assert.equal(plan.kind, "missing");
  assert.equal(lines.length, 0);
});

test("pipeline runs of the public fixture match: inversion latents and maps, controllers, edits, masks, frames", async () => {
  const lines: ReferenceLine[] = [];
  const counts = await runReference(FIXTURE, (l) => lines.push(l), { cacheDir, only: /^(style|shape)\./ });
  for (const l of lines.filter((x) => x.ok !== null)) assert.equal(l.ok, true, `${l.name}: ${JSON.stringify(l)}`);
  assert.equal(counts.failed, 0);
  for (const n of [
    "style.inversion.latents",
    "style.edit1.latents",
    "style.edit1.frames_u8",
    "shape.edit1.attention_blend_mask.res10",
    "shape.edit1.controller.replace_mapper",
    "shape.nofusion.latents_final",
  ]) {
    assert.ok(
      lines.some((l) => l.name === n && l.ok === true),
      `${n} computed and within tolerance`,
    );
  }
});
