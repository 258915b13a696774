// Conversions between 8-bit RGB frames and the model's image tensors. FateZero feeds u8/255·2−1 and
// turns decoder output back with round(clamp(x/2 + 0.5, 0, 1)·255) (rounding, not truncating as PIL's
// astype would: FateZero's logger multiplies by 255 and rounds).

/** RGB frames u8 [F, H, W, 3] → image tensor [F, 3, H, W] in [-1, 1]. */
export function framesToTensor(u8: Uint8Array, frames: number, height: number, width: number): Float32Array {
  if (u8.length !== frames * height * width * 3) {
    throw new Error(`framesToTensor: ${u8.length} bytes is not ${frames}×${height}×${width}×3`);
  }
  const out = new Float32Array(frames * 3 * height * width); // [F, 3, H, W]
  const plane = height * width;
  for (let f = 0; f < frames; f++) {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[(f * 3 + c) * plane + p] = (u8[(f * plane + p) * 3 + c] / 255) * 2 - 1;
    }
  }
  return out;
}

/** Image tensor [F, 3, H, W] (decoder output, about [-1, 1]) → RGB frames u8 [F, H, W, 3]. */
export function tensorToFrames(x: Float32Array, frames: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  if (x.length !== frames * 3 * plane) throw new Error(`tensorToFrames: ${x.length} values is not ${frames}×3×${height}×${width}`);
  const out = new Uint8Array(frames * plane * 3); // [F, H, W, 3]
  for (let f = 0; f < frames; f++) {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = Math.min(1, Math.max(0, Math.fround(Math.fround(x[(f * 3 + c) * plane + p] / 2) + 0.5)));
        out[(f * plane + p) * 3 + c] = Math.round(Math.fround(v * 255));
      }
    }
  }
  return out;
}
