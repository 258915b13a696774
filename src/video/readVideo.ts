// Reading a clip the way FateZero's ImageSequenceDataset does (video_diffusion/data/dataset.py, transform.py):
// frames start + stride·clip + i·samplingRate; each frame is offset-cropped in pixels of the ORIGINAL frame,
// scaled so that it covers the target size (FateZero: short side → size, long side int(scale·long)), then
// center-cropped. FateZero only has square sizes; [H, W] generalises "short side" to "the side that binds".
// Where FateZero silently clamps (offsets past the frame) or crashes (too few frames), we throw a clear error.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import sharp from "sharp";
import { fileKind } from "../util/fileKind";
import { nonNegativeInt, positiveInt } from "../util/integers";
import { ffmpegCommand, ffmpegPath } from "./ffmpeg";

/** Frames of a clip in memory. */
export interface VideoClip {
  /** RGB frames, u8 [F, H, W, 3]. */
  frames: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** Where the frames came from (a path, or a name for generated clips). */
  source: string;
  fps: number;
}

/** Pixels removed from each side of the original frame before resizing (FateZero's `offset`). */
export interface FrameOffset {
  left?: number;
  right?: number;
  top?: number;
  bottom?: number;
}

/** Which frames to read and at what size (FateZero's dataset options). */
export interface VideoReadOptions {
  /** Target size in pixels: a square side or [H, W] (the model's frameSizeUnit says which sizes it can edit). */
  size: number | [number, number];
  /** Frames to take; negative takes every frame from the start at the sampling rate. */
  nSampleFrame: number;
  /** Step between taken frames (default 1). */
  samplingRate?: number;
  /** Step between clips of a long video (FateZero's tuning stride; default: one clip only). */
  stride?: number;
  /** Which clip of a long video (FateZero's dataset index; default 0). */
  clip?: number;
  /** First frame (default 0). */
  startSampleFrame?: number;
  offset?: FrameOffset;
}

/** File extensions read as frames (FateZero's IMAGE_EXTENSION, compared case-insensitively). */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"];
/** File extensions decoded with ffmpeg. */
export const VIDEO_EXTENSIONS = [".mp4", ".webm", ".gif", ".mov", ".mkv", ".avi", ".m4v"];
/** The frame rate given to a folder of frames: FateZero saves its results at 10 fps. */
export const FOLDER_FPS = 10;

/** Which source frames to take: count (negative = all), rate, first frame, clip window and its stride. */
export interface Sampling {
  n: number;
  rate: number;
  start: number;
  clip: number;
  stride: number;
}

/** One decoded RGB frame, u8 [h, w, 3]. */
interface RawFrame {
  data: Buffer;
  width: number;
  height: number;
}

/** Decoded source frames (only the sampled ones) and the source frame rate. */
interface Decoded {
  frames: RawFrame[];
  fps: number;
}

/** Read frames from a folder of images or a video file, FateZero-style (sample, offset-crop, resize, crop). */
export async function readVideo(source: string, options: VideoReadOptions): Promise<VideoClip> {
  const [height, width] = targetSize(options.size);
  const rate = positiveInt(options.samplingRate ?? 1, "samplingRate");
  const start = nonNegativeInt(options.startSampleFrame ?? 0, "startSampleFrame");
  const clip = nonNegativeInt(options.clip ?? 0, "clip");
  if (!Number.isInteger(options.nSampleFrame) || options.nSampleFrame === 0) {
    throw new Error(`nSampleFrame must be a non-zero integer (negative = all frames), got ${options.nSampleFrame}`);
  }
  if (options.stride !== undefined && !Number.isInteger(options.stride))
    throw new Error(`stride must be an integer, got ${options.stride}`);
  const offset = checkOffset(options.offset ?? {});
  const sampling: Sampling = { n: options.nSampleFrame, rate, start, clip, stride: options.stride ?? -1 };

  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new Error(`video source ${source} does not exist`);
  }
  const decoded = stat.isDirectory() ? await readFolder(source, sampling) : await readVideoFile(source, sampling);

  const first = decoded.frames[0];
  const frames = new Uint8Array(decoded.frames.length * height * width * 3); // [F, H, W, 3]
  for (let i = 0; i < decoded.frames.length; i++) {
    const f = decoded.frames[i];
    if (f.width !== first.width || f.height !== first.height) {
      throw new Error(`${source}: frame ${i} is ${f.width}×${f.height} but frame 0 is ${first.width}×${first.height}`);
    }
    frames.set(await fitFrame(f, offset, height, width, source), i * height * width * 3);
  }
  // Taking every rate-th frame divides the frame rate, so the motion keeps its speed on playback.
  return { frames, count: decoded.frames.length, height, width, source, fps: decoded.fps / rate };
}

/** Frame indices taken from a source of `total` frames (FateZero's get_frame_indices), or a clear error. */
export function sampleIndices(total: number, s: Sampling, source: string): number[] {
  // FateZero: stride ≤ 0 means one window per video (stride = n_images + 1).
  const stride = s.stride > 0 ? s.stride : total + 1;
  const first = s.start + stride * s.clip;
  const n = s.n > 0 ? s.n : Math.max(0, Math.floor((total - first - 1) / s.rate) + 1);
  const span = (n - 1) * s.rate + 1;
  if (n <= 0 || first + span > total) {
    const want = s.n > 0 ? `${s.n} frames were` : "all frames were";
    throw new Error(
      `${source} has ${total} frames, but ${want} requested (from frame ${first}, every ${s.rate}), ` +
        `which needs ${first + Math.max(span, 1)} frames`,
    );
  }
  return Array.from({ length: n }, (_, i) => first + i * s.rate);
}

/** [H, W] from the size option, each a positive number of pixels. */
function targetSize(size: number | [number, number]): [number, number] {
  const hw: [number, number] = typeof size === "number" ? [size, size] : size;
  if (!Array.isArray(hw) || hw.length !== 2 || !hw.every((v) => Number.isSafeInteger(v) && v > 0)) {
    throw new Error(`video size must be a positive number of pixels (a side, or [height, width]), got ${JSON.stringify(size)}`);
  }
  return hw;
}

function checkOffset(o: FrameOffset): Required<FrameOffset> {
  return {
    left: nonNegativeInt(o.left ?? 0, "offset.left"),
    right: nonNegativeInt(o.right ?? 0, "offset.right"),
    top: nonNegativeInt(o.top ?? 0, "offset.top"),
    bottom: nonNegativeInt(o.bottom ?? 0, "offset.bottom"),
  };
}

/** Offset-crop, scale to cover [H, W], center-crop: one frame → u8 [H, W, 3]. */
async function fitFrame(f: RawFrame, o: Required<FrameOffset>, height: number, width: number, source: string): Promise<Buffer> {
  const cw = f.width - o.left - o.right;
  const ch = f.height - o.top - o.bottom;
  if (cw < 1 || ch < 1) {
    throw new Error(
      `${source}: offset crops left ${o.left} + right ${o.right} of ${f.width} px wide and ` +
        `top ${o.top} + bottom ${o.bottom} of ${f.height} px high frames, leaving nothing`,
    );
  }
  // The binding side gets the target exactly; the other is floored like FateZero's int(scale · long).
  const scale = Math.max(height / ch, width / cw);
  const rh = height / ch >= width / cw ? height : Math.max(height, Math.floor(scale * ch));
  const rw = width / cw >= height / ch ? width : Math.max(width, Math.floor(scale * cw));
  // Kernel "linear": libvips' reduce with a triangle filter widened by the scale factor, i.e. an antialiased
  // bilinear — the same filter as FateZero's interpolate(mode="bilinear", antialias=True), so our inputs match
  // the reference pre-processing (measured on car-turn 512→256: mean |diff| 0.29 grey levels against a port of
  // torch's filter, against 1.23 for cubic and 1.8 for lanczos3); lanczos3, sharp's default, adds ringing
  // FateZero never saw.
  return sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
    .extract({ left: o.left, top: o.top, width: cw, height: ch })
    .resize(rw, rh, { kernel: "linear", fit: "fill" })
    .extract({ left: (rw - width) >> 1, top: (rh - height) >> 1, width, height })
    .raw()
    .toBuffer();
}

/** What a source holds, found without decoding it: its frame count and the size of its frames. */
export interface VideoProbe {
  frames: number;
  width: number;
  height: number;
}

/**
 * Open a video file or frame folder without decoding it (the checks a dry run can afford): it is a video with a
 * video stream, or a folder of images of one size; it has the frames `indices` asks for (folder: each of those
 * is an image). Errors name the file and what is wrong.
 */
export async function probeVideo(source: string, indices: readonly number[]): Promise<VideoProbe> {
  const stats = fs.statSync(source, { throwIfNoEntry: false });
  if (!stats) throw new Error(`video source ${source} does not exist`);
  if (!stats.isDirectory() && !stats.isFile())
    throw new Error(`video source ${source} is ${fileKind(stats)}, neither a video file nor a folder of frames`);
  const probe = stats.isDirectory() ? await probeFolder(source, indices) : probeVideoFile(source);
  const last = indices[indices.length - 1];
  if (last >= probe.frames) {
    const rate = indices.length > 1 ? indices[1] - indices[0] : 1;
    throw new Error(
      `${source} has ${probe.frames} frames, but ${indices.length} frames were requested (from frame ${indices[0]}, every ${rate}), ` +
        `which needs ${last + 1} frames`,
    );
  }
  return probe;
}

/** A folder's frame count, and the size of the frames at `indices`, which must all be readable images of one size. */
async function probeFolder(dir: string, indices: readonly number[]): Promise<VideoProbe> {
  const files = listFrameFiles(dir);
  if (files.length === 0) throw new Error(`folder ${dir} contains no images (${IMAGE_EXTENSIONS.join(", ")})`);
  let first: { width: number; height: number; file: string } | undefined;
  for (const i of indices.filter((i) => i < files.length)) {
    const file = path.join(dir, files[i]);
    const meta = await sharp(file)
      .metadata() // the header only
      .catch((e: Error) => {
        throw new Error(`cannot read frame ${file}: ${e.message}`);
      });
    const [width, height] = [meta.width ?? 0, meta.height ?? 0];
    if (!first) first = { width, height, file };
    else if (width !== first.width || height !== first.height)
      throw new Error(`${dir}: frame ${file} is ${width}×${height} but ${first.file} is ${first.width}×${first.height}`);
  }
  return { frames: files.length, width: first?.width ?? 0, height: first?.height ?? 0 };
}

/**
 * A video file's frames and size: ffmpeg copies the packets of its first video stream (no decoding, so a long
 * video is probed in moments) and reports the stream's size.
 */
function probeVideoFile(file: string): VideoProbe {
  checkVideoExtension(file);
  const r = spawnSync(ffmpegPath(), ["-nostdin", "-hide_banner", "-i", file, "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], {
    encoding: "utf8",
  });
  const log = r.stderr ?? "";
  if (/Stream map '0:v:0' matches no streams/.test(log)) {
    const streams = [...log.matchAll(/Stream #\d+:\d+[^:]*: (\w+):/g)].map((m) => m[1].toLowerCase());
    throw new Error(`${file} has no video stream${streams.length ? ` (only ${[...new Set(streams)].join(", ")})` : ""}`);
  }
  if (r.status !== 0) throw new Error(`cannot read video ${file}: ${lastLogLines(log, file) ?? `ffmpeg exit ${r.status}`}`);
  const counts = [...log.matchAll(/frame=\s*(\d+)/g)];
  const size = /Stream #\d+:\d+[^:]*: Video: .*?(\d+)x(\d+)/.exec(log);
  const frames = counts.length ? Number(counts[counts.length - 1][1]) : 0;
  if (frames === 0 || !size) throw new Error(`${file}: its video stream has no frames ffmpeg can read`);
  return { frames, width: Number(size[1]), height: Number(size[2]) };
}

/** How many frames a source has: a folder's images, or the video packets of a file's first video stream. */
export function countSourceFrames(source: string): number {
  if (fs.statSync(source).isDirectory()) return listFrameFiles(source).length;
  return probeVideoFile(source).frames;
}

/** The image files of a folder, in natural order (frame2 before frame10). */
export function listFrameFiles(dir: string): string[] {
  const collator = new Intl.Collator("en", { numeric: true });
  return fs
    .readdirSync(dir)
    .filter((f) => IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase()))
    .sort((a, b) => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

async function readFolder(dir: string, s: Sampling): Promise<Decoded> {
  let files: string[];
  try {
    files = listFrameFiles(dir);
  } catch (e) {
    throw new Error(`cannot list folder ${dir}: ${(e as Error).message}`);
  }
  if (files.length === 0) throw new Error(`folder ${dir} contains no images (${IMAGE_EXTENSIONS.join(", ")})`);
  const indices = sampleIndices(files.length, s, dir);
  const frames = await Promise.all(indices.map((i) => readImage(path.join(dir, files[i]))));
  return { frames, fps: FOLDER_FPS };
}

/** One image file → RGB u8 (alpha dropped like PIL's convert("RGB"); grey and CMYK become sRGB). */
async function readImage(file: string): Promise<RawFrame> {
  try {
    const { data, info } = await sharp(file)
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height };
  } catch (e) {
    throw new Error(`cannot read frame ${file}: ${(e as Error).message}`);
  }
}

/** A file to read as video has one of VIDEO_EXTENSIONS. */
function checkVideoExtension(file: string): void {
  const ext = path.extname(file).toLowerCase();
  if (!VIDEO_EXTENSIONS.includes(ext)) {
    throw new Error(
      `${file} is neither a folder of frames nor a video file (${VIDEO_EXTENSIONS.join(", ")}); got "${ext || "no extension"}"`,
    );
  }
}

async function readVideoFile(file: string, s: Sampling): Promise<Decoded> {
  checkVideoExtension(file);
  // The window start is known unless a later clip's stride defaults to the frame count (then it is past the
  // end, and sampleIndices reports it). With a fixed count, decoding stops after the last needed frame.
  const first = s.clip === 0 ? s.start : s.stride > 0 ? s.start + s.stride * s.clip : Number.POSITIVE_INFINITY;
  const needed = s.n > 0 && Number.isFinite(first) ? first + (s.n - 1) * s.rate + 1 : undefined;
  // Only the sampled frames are kept, so a long video read at a sampling rate does not fill the memory.
  const keep = (i: number): boolean => i >= first && (i - first) % s.rate === 0;
  const decoded = await decodeVideoFile(file, needed, keep);
  const indices = sampleIndices(decoded.total, s, file);
  return { frames: indices.map((i) => decoded.kept.get(i) as RawFrame), fps: decoded.fps };
}

/**
 * Decode up to `maxFrames` frames to RGB with fluent-ffmpeg, as a stream of PPM images piped into memory;
 * returns the frames for which `keep(index)` holds, the number decoded and the frame rate.
 * PPM rather than rawvideo: each frame carries its own size, so nothing depends on parsing ffmpeg's log
 * (which rotation metadata or odd sample aspect ratios would make wrong).
 */
function decodeVideoFile(
  file: string,
  maxFrames: number | undefined,
  keep: (index: number) => boolean,
): Promise<{ kept: Map<number, RawFrame>; total: number; fps: number }> {
  return new Promise((resolve, reject) => {
    const kept = new Map<number, RawFrame>();
    let total = 0;
    const parser = new PpmStreamParser((f) => {
      if (keep(total)) kept.set(total, f);
      total++;
    });
    let fps = FOLDER_FPS;
    let parseError: Error | undefined;
    let ended = 0;
    const finish = (): void => {
      if (++ended < 2) return;
      if (parseError) reject(new Error(`cannot decode video ${file}: ${parseError.message}`));
      else if (parser.pending()) reject(new Error(`cannot decode video ${file}: the decoder's output ended inside a frame`));
      else resolve({ kept, total, fps });
    };
    const out = new PassThrough();
    out.on("data", (chunk: Buffer) => {
      if (parseError) return;
      try {
        parser.push(chunk);
      } catch (e) {
        parseError = e as Error;
      }
    });
    out.on("end", finish);
    const options = [
      "-xerror", // a damaged packet (truncated file) fails the decode instead of yielding fewer or grey frames
      "-vsync",
      "0", // one output frame per decoded frame: no duplicates or drops for variable frame rates
      "-sws_flags",
      "bicubic+accurate_rnd+full_chroma_int", // unbiased YUV→RGB rounding (about −1 grey level otherwise)
      "-pix_fmt",
      "rgb24",
    ];
    if (maxFrames !== undefined) options.push("-frames:v", String(maxFrames));
    ffmpegCommand()
      .input(file)
      .inputOptions(["-hide_banner"])
      .noAudio()
      .outputOptions(options)
      .videoCodec("ppm")
      .format("image2pipe")
      .on("codecData", (data: { video_details?: string[] }) => {
        fps = parseFps(data.video_details ?? []) ?? fps;
      })
      .on("error", (err: Error, _stdout: string | null, stderr: string | null) => {
        out.destroy();
        reject(new Error(`cannot decode video ${file}: ${lastLogLines(stderr, file) ?? err.message}`));
      })
      .on("end", finish)
      .pipe(out, { end: true });
  });
}

/** The frame rate from ffmpeg's stream description ("25 fps", "8 tbr"): tbr first, the container's base rate. */
function parseFps(details: string[]): number | undefined {
  for (const unit of ["tbr", "fps"]) {
    for (const d of details) {
      const m = new RegExp(`^([\\d.]+)(k?) ${unit}$`).exec(d.trim());
      if (m) {
        const v = parseFloat(m[1]) * (m[2] ? 1000 : 1);
        if (v > 0 && v < 1000) return v;
      }
    }
  }
  return undefined;
}

/** The telling end of an ffmpeg log: its last two lines that are not progress, stream description or trailer. */
function lastLogLines(stderr: string | null, file: string): string | undefined {
  const lines = (stderr ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(
      (l) =>
        l &&
        !/^(frame=|size=|video:|Conversion failed|Stream|Press \[q\]|Input #|Output #|Duration:|Metadata:|Side data:|[\w.-]+\s*: )/.test(l),
    )
    // "[mov,mp4 @ 0x…] moov atom not found" and "<file>: Invalid data …": keep the message, not the prefix.
    .map((l) => l.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, "").replace(`${file}: `, ""));
  return lines.length ? lines.slice(-2).join("; ") : undefined;
}

/** Splits a byte stream of binary PPM (P6, 8-bit) images into frames. */
class PpmStreamParser {
  private header = Buffer.alloc(0);
  private frame: RawFrame | undefined;
  private filled = 0;

  constructor(private readonly onFrame: (f: RawFrame) => void) {}

  /** Whether a frame has been started but not completed. */
  pending(): boolean {
    return this.frame !== undefined || this.header.length > 0;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.frame === undefined) {
        const take = chunk.subarray(pos, pos + 64);
        const joined = Buffer.concat([this.header, take]);
        const parsed = parsePpmHeader(joined);
        if (parsed === undefined) {
          if (joined.length > 64) throw new Error("not a PPM stream");
          this.header = joined;
          pos += take.length;
          continue;
        }
        pos += parsed.headerBytes - this.header.length;
        this.header = Buffer.alloc(0);
        this.frame = { data: Buffer.alloc(parsed.width * parsed.height * 3), width: parsed.width, height: parsed.height }; // [h, w, 3]
        this.filled = 0;
      }
      const n = Math.min(this.frame.data.length - this.filled, chunk.length - pos);
      chunk.copy(this.frame.data, this.filled, pos, pos + n);
      this.filled += n;
      pos += n;
      if (this.filled === this.frame.data.length) {
        this.onFrame(this.frame);
        this.frame = undefined;
      }
    }
  }
}

/** "P6 <w> <h> 255<one whitespace>" → sizes and header length, or undefined while incomplete. */
function parsePpmHeader(b: Buffer): { width: number; height: number; headerBytes: number } | undefined {
  const m = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(b.toString("latin1"));
  if (!m) {
    if (b.length >= 2 && b.toString("latin1", 0, 2) !== "P6") throw new Error("not a PPM stream");
    return undefined;
  }
  if (m[3] !== "255") throw new Error(`PPM max value ${m[3]} is not 8-bit`);
  return { width: Number(m[1]), height: Number(m[2]), headerBytes: m[0].length };
}
