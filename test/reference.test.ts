// Every component tensor of the public fixture is recomputed within tolerance by `fatezero reference`'s
// engine; pipeline items are reported (not silently passed) until the engine computes them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runReference, type ReferenceLine } from "../src/reference/runReference";
import { FIXTURE, tempDir } from "./sharedData";

const cacheDir = tempDir("ref-cache");

test("components of the public fixture match: tokenizer, text encoder, VAE, scheduler, UNet 2D and inflated", async () => {
  const lines: ReferenceLine[] = [];
  const counts = await runReference(FIXTURE, (l) => lines.push(l), { cacheDir, only: /^(scheduler|text|vae|unet2d|unet3d)\./ });
  const computed = lines.filter((l) => l.ok !== null);
  for (const l of computed) assert.equal(l.ok, true, `${l.name}: ${JSON.stringify(l)}`);
  const names = computed.map((l) => l.name);
  for (const n of ["text.token_ids", "text.last_hidden_state", "vae.posterior_mean", "vae.posterior_std", "vae.decoded_mean", "unet2d.noise_pred", "unet3d.default.noise_pred", "unet3d.teaser_mid.noise_pred"]) {
    assert.ok(names.includes(n), `${n} was computed`);
  }
  assert.equal(counts.failed, 0);
  assert.ok(lines.filter((l) => l.ok === null).every((l) => /^input: /.test(l.reason ?? "")));
});

test("pipeline items not computed yet are failures with a reason, never passes", async () => {
  const lines: ReferenceLine[] = [];
  await runReference(FIXTURE, (l) => lines.push(l), { cacheDir, only: /^style\.edit1\.latents$/ });
  assert.equal(lines.length, 1);
  assert.equal(lines[0].ok, false);
  assert.match(lines[0].reason ?? "", /not computed yet/);
});
