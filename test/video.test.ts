import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import sharp from "sharp";
import { FFMPEG_ENV, ffmpegPath, hasEncoder, resetFfmpeg } from "../src/video/ffmpeg";
import { readVideo, VideoClip } from "../src/video/readVideo";
import { makeSampleClip } from "../src/world/sampleClip";
import { makeGrid, writeFrames, writeGif, writeGrid, writeMp4 } from "../src/video/writeVideo";

// Tests run from the project root; the shared data sits beside it.
const CAR_TURN = path.resolve(process.cwd(), "../shared/data/car-turn");
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-video-"));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

/** Mean absolute difference of two equal-length u8 arrays, in grey levels. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** Frame i of a clip, u8 [H, W, 3]. */
function frame(c: VideoClip, i: number): Uint8Array {
  const n = c.height * c.width * 3;
  return c.frames.subarray(i * n, (i + 1) * n);
}

/** car-turn frame i decoded directly, u8 [512, 512, 3]. */
async function carFrame(i: number): Promise<Buffer> {
  return sharp(path.join(CAR_TURN, `0000${i}.png`))
    .removeAlpha()
    .raw()
    .toBuffer();
}

/** Output-pixel weights of torch's interpolate(mode="bilinear", antialias=True) along one axis. */
function torchAaWeights(inSize: number, outSize: number): { start: number; w: number[] }[] {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const inv = scale >= 1 ? 1 / scale : 1;
  return Array.from({ length: outSize }, (_, i) => {
    const centre = scale * (i + 0.5);
    const start = Math.max(Math.trunc(centre - support + 0.5), 0);
    const stop = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const w = Array.from({ length: stop - start }, (_, j) => Math.max(0, 1 - Math.abs((j + start - centre + 0.5) * inv)));
    const total = w.reduce((a, b) => a + b, 0);
    return { start, w: w.map((v) => v / total) };
  });
}

/** FateZero's transform of one square frame: short side → size, center crop to [H, W] (reference port). */
function fatezeroResize(rgb: Uint8Array, side: number, height: number, width: number): Uint8Array {
  const s = Math.max(height, width); // square input: the binding side is the larger target
  const wx = torchAaWeights(side, s);
  const tmp = new Float64Array(side * s * 3); // [side, s, 3]
  for (let y = 0; y < side; y++)
    for (let x = 0; x < s; x++)
      for (let c = 0; c < 3; c++)
        tmp[(y * s + x) * 3 + c] = wx[x].w.reduce((a, w, j) => a + w * rgb[(y * side + wx[x].start + j) * 3 + c], 0);
  const out = new Uint8Array(height * width * 3); // [H, W, 3]
  const top = (s - height) >> 1;
  const left = (s - width) >> 1;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        const { start, w } = wx[y + top];
        out[(y * width + x) * 3 + c] = Math.round(w.reduce((a, wj, j) => a + wj * tmp[((start + j) * s + x + left) * 3 + c], 0));
      }
  return out;
}

const carMp4 = path.join(TMP, "car-turn.mp4");

test("car-turn folder at 512 is the PNGs themselves", async () => {
  const clip = await readVideo(CAR_TURN, { size: 512, nSampleFrame: 8 });
  assert.deepEqual([clip.count, clip.height, clip.width, clip.fps], [8, 512, 512, 10]);
  assert.equal(clip.frames.length, 8 * 512 * 512 * 3);
  for (const i of [0, 7]) assert.deepEqual(Buffer.from(frame(clip, i)), await carFrame(i));
});

test("resizing matches FateZero's antialiased bilinear (256 and 320×448) within 0.5 grey levels", async () => {
  const src = await carFrame(5);
  for (const size of [256, [320, 448]] as const) {
    const clip = await readVideo(CAR_TURN, { size: size as number | [number, number], nSampleFrame: 1, startSampleFrame: 5 });
    const [h, w] = typeof size === "number" ? [size, size] : size;
    assert.deepEqual([clip.count, clip.height, clip.width], [1, h, w]);
    const d = meanAbsDiff(clip.frames, fatezeroResize(src, 512, h, w));
    assert.ok(d < 0.5, `mean abs diff ${d.toFixed(3)} at ${h}×${w}`);
  }
});

test("sampling: start + i·rate, stride windows, all frames, offsets crop the original frame", async () => {
  const all = await readVideo(CAR_TURN, { size: 256, nSampleFrame: 8 });
  const pick = await readVideo(CAR_TURN, { size: 256, nSampleFrame: 3, samplingRate: 2, startSampleFrame: 1 });
  assert.equal(pick.count, 3);
  assert.equal(pick.fps, 5); // every 2nd frame: half the rate, same motion speed
  [1, 3, 5].forEach((src, i) => assert.deepEqual(frame(pick, i), frame(all, src)));

  const window = await readVideo(CAR_TURN, { size: 256, nSampleFrame: 2, stride: 3, clip: 2 });
  [6, 7].forEach((src, i) => assert.deepEqual(frame(window, i), frame(all, src)));

  const every3rd = await readVideo(CAR_TURN, { size: 256, nSampleFrame: -1, samplingRate: 3 });
  assert.equal(every3rd.count, 3);
  [0, 3, 6].forEach((src, i) => assert.deepEqual(frame(every3rd, i), frame(all, src)));

  // left 256 of a 512² frame leaves 512 high × 256 wide: scale 1, then the middle 256 rows.
  const crop = await readVideo(CAR_TURN, { size: 256, nSampleFrame: 1, startSampleFrame: 2, offset: { left: 256 } });
  const src = await carFrame(2);
  const want = Buffer.alloc(256 * 256 * 3); // [256, 256, 3]
  for (let y = 0; y < 256; y++) src.copy(want, y * 256 * 3, ((y + 128) * 512 + 256) * 3, ((y + 128) * 512 + 512) * 3);
  assert.deepEqual(Buffer.from(crop.frames), want);
});

test("mp4 round trip (H.264 and MPEG-4) is close to the PNG path", async () => {
  assert.ok(hasEncoder("libx264"), `${ffmpegPath()} should have libx264`);
  const png = await readVideo(CAR_TURN, { size: 512, nSampleFrame: 8 });
  await writeMp4(carMp4, png, 8);
  const mp4 = await readVideo(carMp4, { size: 512, nSampleFrame: 8 });
  assert.deepEqual([mp4.count, mp4.height, mp4.width, mp4.fps], [8, 512, 512, 8]);
  const d = meanAbsDiff(mp4.frames, png.frames);
  console.log(`h264 crf 17 yuv420p: mean abs diff ${d.toFixed(3)} grey levels`);
  assert.ok(d < 3, `h264 mean abs diff ${d}`);

  const sub = await readVideo(carMp4, { size: 512, nSampleFrame: 3, samplingRate: 2, startSampleFrame: 1 });
  [1, 3, 5].forEach((src, i) => assert.deepEqual(frame(sub, i), frame(mp4, src)));

  const m4v = path.join(TMP, "out", "mpeg4.mp4");
  await writeMp4(m4v, png, 8, "mpeg4");
  const back = await readVideo(m4v, { size: 512, nSampleFrame: 8 });
  const d4 = meanAbsDiff(back.frames, png.frames);
  console.log(`mpeg4 q 2: mean abs diff ${d4.toFixed(3)} grey levels`);
  assert.ok(d4 < 5, `mpeg4 mean abs diff ${d4}`);
  assert.deepEqual(fs.readdirSync(path.dirname(m4v)), ["mpeg4.mp4"]); // no temp files left behind
});

test("gif round trip", async () => {
  const png = await readVideo(CAR_TURN, { size: 256, nSampleFrame: 8 });
  const gif = path.join(TMP, "car.gif");
  await writeGif(gif, png, 10);
  const back = await readVideo(gif, { size: 256, nSampleFrame: 8 });
  assert.deepEqual([back.count, back.height, back.width, back.fps], [8, 256, 256, 10]);
  const d = meanAbsDiff(back.frames, png.frames);
  console.log(`gif (one 256-colour palette, dithered): mean abs diff ${d.toFixed(3)} grey levels`);
  assert.ok(d < 8, `gif mean abs diff ${d}`);
});

test("clear errors", async () => {
  const good = fs.readFileSync(carMp4);
  const truncated = path.join(TMP, "truncated.mp4");
  fs.writeFileSync(truncated, good.subarray(0, Math.floor(good.length * 0.6)));
  const text = path.join(TMP, "notes.mp4");
  fs.writeFileSync(text, "this is not a video\n");
  const txt = path.join(TMP, "notes.txt");
  fs.writeFileSync(txt, "hello\n");
  const empty = path.join(TMP, "empty");
  fs.mkdirSync(empty);
  fs.writeFileSync(path.join(empty, "readme.md"), "no frames here\n");
  const badFrames = path.join(TMP, "bad-frames");
  fs.mkdirSync(badFrames);
  fs.copyFileSync(path.join(CAR_TURN, "00000.png"), path.join(badFrames, "0.png"));
  fs.writeFileSync(path.join(badFrames, "1.png"), "not a png");

  const o = { size: 256, nSampleFrame: 2 };
  await assert.rejects(readVideo(truncated, o), /cannot decode video .*truncated\.mp4: .+/);
  await assert.rejects(readVideo(text, o), /cannot decode video .*notes\.mp4: .*(moov atom not found|Invalid data)/);
  await assert.rejects(readVideo(txt, o), /neither a folder of frames nor a video file/);
  await assert.rejects(readVideo(CAR_TURN, { size: 256, nSampleFrame: 9 }), /has 8 frames, but 9 frames were requested/);
  await assert.rejects(readVideo(carMp4, { size: 256, nSampleFrame: 5, samplingRate: 2 }), /has 8 frames, but 5 frames .* needs 9 frames/);
  // Any positive size is read; which sizes a model can edit is the model's frame size unit (loadModel.ts).
  assert.deepEqual(await readVideo(CAR_TURN, { size: [96, 100], nSampleFrame: 1 }).then((c) => [c.height, c.width]), [96, 100]);
  for (const size of [0, 100.5, [512]] as const)
    await assert.rejects(readVideo(CAR_TURN, { size: size as number, nSampleFrame: 1 }), /video size must be a positive number of pixels/);
  await assert.rejects(readVideo(path.join(TMP, "missing"), o), /does not exist/);
  await assert.rejects(readVideo(empty, o), /contains no images/);
  await assert.rejects(readVideo(badFrames, o), /cannot read frame .*1\.png/);
  await assert.rejects(readVideo(CAR_TURN, { ...o, offset: { left: 300, right: 212 } }), /offset crops left 300 \+ right 212 of 512 px/);
  await assert.rejects(readVideo(CAR_TURN, { ...o, offset: { top: -1 } }), /offset\.top must be a non-negative integer/);
});

test("a bad FATEZERO_FFMPEG is refused, naming the variable", () => {
  process.env[FFMPEG_ENV] = path.join(TMP, "no-such-ffmpeg");
  resetFfmpeg();
  try {
    assert.throws(() => ffmpegPath(), /FATEZERO_FFMPEG=.*no-such-ffmpeg is not a working ffmpeg/);
  } finally {
    delete process.env[FFMPEG_ENV];
    resetFfmpeg();
  }
  assert.ok(ffmpegPath().length > 0);
});

test("grid: labelled columns side by side, as PNG frames and as an odd-width mp4", async () => {
  const car = await readVideo(CAR_TURN, { size: 128, nSampleFrame: 8 });
  const sample = makeSampleClip(8, 128);
  const columns = [
    { label: "source", clip: car },
    { label: "reconstruction", clip: sample },
    { label: "edit <watercolor>", clip: car },
  ];
  const dir = path.join(TMP, "grid");
  const grid = await writeGrid(dir, columns, { labelHeight: 24, gap: 3 });
  assert.deepEqual([grid.count, grid.height, grid.width], [8, 24 + 128, 3 * 128 + 2 * 3]);
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".png"))
    .sort();
  assert.equal(files.length, 8);
  const meta = await sharp(path.join(dir, files[4])).metadata();
  assert.deepEqual([meta.width, meta.height], [390, 152]);

  const g = frame(grid, 4);
  const px = (x: number, y: number): number => g[(y * grid.width + x) * 3];
  columns.forEach((c, k) => {
    const left = k * (128 + 3);
    let dark = 0;
    let white = 0;
    for (let y = 0; y < 24; y++)
      for (let x = left; x < left + 128; x++) {
        if (px(x, y) < 100) dark++;
        if (px(x, y) === 255) white++;
      }
    assert.ok(dark > 20 && white > 128 * 24 * 0.6, `label band of "${c.label}": ${dark} dark, ${white} white pixels`);
    for (const y of [0, 77, 127]) {
      const row = grid.frames.subarray(
        (4 * grid.height + 24 + y) * grid.width * 3 + left * 3,
        (4 * grid.height + 24 + y) * grid.width * 3 + (left + 128) * 3,
      );
      assert.deepEqual(row, frame(c.clip, 4).subarray(y * 128 * 3, (y + 1) * 128 * 3));
    }
  });
  assert.equal(px(128, 100), 255); // the gap between columns stays white

  const mp4 = path.join(TMP, "grid.mp4");
  await writeGrid(mp4, columns, { labelHeight: 24, gap: 3 });
  const back = await readVideo(mp4, { size: 64, nSampleFrame: -1 });
  assert.equal(back.count, 8);
  await assert.rejects(writeGrid(path.join(TMP, "grid.png"), columns), /must end in \.mp4 or \.gif, or name a folder/);
  await assert.rejects(
    makeGrid([
      { label: "a", clip: car },
      { label: "b", clip: makeSampleClip(3, 128) },
    ]),
    /has 3 frames/,
  );
});

test("a failed write leaves no file", async () => {
  const target = path.join(TMP, "failed", "clip.mp4");
  await assert.rejects(writeMp4(target, makeSampleClip(2, 64), 0), /frame rate must be positive/);
  assert.deepEqual(fs.readdirSync(path.dirname(target)), []);
  const frames = await writeFrames(path.join(TMP, "frames"), makeSampleClip(2, 64));
  assert.deepEqual(
    frames.map((f) => path.basename(f)),
    ["00000.png", "00001.png"],
  );
});

test("a folder of frames is written whole: an earlier, longer sequence is replaced; a folder with a file it did not write is refused", async () => {
  const dir = path.join(TMP, "sequence");
  await writeFrames(dir, makeSampleClip(4, 32));
  await writeFrames(dir, makeSampleClip(2, 32));
  assert.deepEqual(fs.readdirSync(dir).sort(), [".fatezero-output.json", "00000.png", "00001.png"]);
  assert.deepEqual(
    fs.readdirSync(TMP).filter((f) => f.endsWith(".staging")),
    [],
  );
  fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
  await assert.rejects(
    writeFrames(dir, makeSampleClip(1, 32)),
    /frames folder .*sequence: holds 00000\.png, 00001\.png, notes\.txt; notes\.txt is not a file fatezero's frame writer wrote/,
  );
  assert.deepEqual(fs.readdirSync(dir).sort(), [".fatezero-output.json", "00000.png", "00001.png", "notes.txt"]);
});

test("sample clip is deterministic and moves", () => {
  const hash = (c: VideoClip): string => crypto.createHash("sha256").update(c.frames).digest("hex");
  const a = makeSampleClip();
  const b = makeSampleClip();
  assert.deepEqual([a.count, a.height, a.width], [8, 512, 512]);
  assert.equal(hash(a), hash(b));
  const motion = meanAbsDiff(frame(a, 0), frame(a, 7));
  assert.ok(motion > 2, `frames 0 and 7 differ by ${motion}`);
  for (let i = 1; i < 8; i++) assert.notDeepEqual(frame(a, i), frame(a, i - 1));
  const small = makeSampleClip(3, 128);
  assert.deepEqual([small.count, small.height, small.width], [3, 128, 128]);
});
