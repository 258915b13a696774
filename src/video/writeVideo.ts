// Writing clips: PNG frames, mp4, gif and labelled side-by-side grids. Every file (or folder of frames) is
// written to a temporary name beside its target and renamed into place, so an interrupted write never leaves
// a half file behind (rename within one folder is atomic); parent folders are created.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import sharp from "sharp";
import { outputFolder, writeFolder } from "../util/folderOutput";
import { removeOrphans } from "../util/orphans";
import { ffmpegCommand, hasEncoder } from "./ffmpeg";
import type { VideoClip } from "./readVideo";

/** Which mp4 video codec to use: H.264 when the ffmpeg has libx264 ("auto"), or a fixed one. */
export type Mp4Codec = "auto" | "h264" | "mpeg4";

/** Layout of a labelled grid. */
export interface GridOptions {
  /** Frame rate of an mp4/gif grid (default: the first clip's). */
  fps?: number;
  /** Height of the label band above the columns, px (default: 7% of the tallest clip, at least 24). */
  labelHeight?: number;
  /** White space between columns, px (default 4). */
  gap?: number;
}

/** One column of a grid: a clip with the label drawn above it. */
export interface GridColumn {
  label: string;
  clip: VideoClip;
}

/** What a folder of frames' manifest names as its writer. */
export const FRAMES_WRITER = "fatezero's frame writer";

/**
 * Write each frame as `<dir>/00000.png`, `00001.png`, …; returns the paths. The folder is written whole: an
 * earlier sequence written here (verified by its manifest) is replaced, never mixed with this one; any other
 * non-empty folder is refused.
 */
export async function writeFrames(dir: string, clip: VideoClip): Promise<string[]> {
  checkClip(clip);
  const out = outputFolder(dir, "frames folder", FRAMES_WRITER);
  const names = await writeFolder(out, (staging) => writeFrameFiles(staging, clip));
  return names.map((name) => path.join(out.target, name));
}

/** Write the frames as `00000.png`, `00001.png`, … into `dir`, a new folder of the caller's; returns the names. */
export async function writeFrameFiles(dir: string, clip: VideoClip): Promise<string[]> {
  checkClip(clip);
  fs.mkdirSync(dir, { recursive: true });
  const frameBytes = clip.height * clip.width * 3;
  const names = Array.from({ length: clip.count }, (_, i) => `${String(i).padStart(5, "0")}.png`);
  await Promise.all(
    names.map(async (name, i) => {
      const rgb = clip.frames.subarray(i * frameBytes, (i + 1) * frameBytes); // [H, W, 3]
      const png = await sharp(rgb, { raw: { width: clip.width, height: clip.height, channels: 3 } })
        .png()
        .toBuffer();
      await fs.promises.writeFile(path.join(dir, name), png);
    }),
  );
  return names;
}

/** Write an mp4: H.264 yuv420p (BT.709, tagged) via libx264 when available, else MPEG-4 part 2. */
export async function writeMp4(file: string, clip: VideoClip, fps = clip.fps, codec: Mp4Codec = "auto"): Promise<void> {
  checkClip(clip);
  const h264 = codec === "h264" || (codec === "auto" && hasEncoder("libx264"));
  if (codec === "h264" && !hasEncoder("libx264")) throw new Error("writeMp4: this ffmpeg has no libx264 encoder");
  // yuv420p needs even sizes: pad odd edges by one pixel rather than scale (which would blur every frame).
  // The RGB→YUV matrix is BT.709 and tagged as such, which is what browsers assume for untagged video anyway.
  const filters = [
    "pad=ceil(iw/2)*2:ceil(ih/2)*2",
    "scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int",
    "format=yuv420p",
  ].join(",");
  const codecOptions = h264
    ? ["-c:v", "libx264", "-preset", "medium", "-crf", "17"] // crf 17: visually lossless for inspection of edits
    : ["-c:v", "mpeg4", "-q:v", "2"];
  const options = [
    ...codecOptions,
    "-vf",
    filters,
    "-colorspace",
    "bt709",
    "-color_primaries",
    "bt709",
    "-color_trc",
    "bt709",
    "-color_range",
    "tv",
    "-movflags",
    "+faststart", // index first, so notebooks and browsers can start playing before the end arrives
  ];
  await atomicWrite(file, (tmp) => encodeRaw(clip, fps, tmp, "mp4", options));
}

/** The bytes of an mp4 of the clip (for inline display in a notebook). */
export async function encodeMp4(clip: VideoClip, fps = clip.fps): Promise<Uint8Array> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fatezero-mp4-"));
  try {
    const file = path.join(dir, "clip.mp4");
    await writeMp4(file, clip, fps);
    return new Uint8Array(fs.readFileSync(file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Write a looping gif with a palette computed over the whole clip (palettegen → paletteuse). */
export async function writeGif(file: string, clip: VideoClip, fps = clip.fps): Promise<void> {
  checkClip(clip);
  // One palette for all frames (stats_mode=full) keeps colours steady between frames instead of flickering.
  const options = ["-filter_complex", "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse", "-loop", "0"];
  await atomicWrite(file, (tmp) => encodeRaw(clip, fps, tmp, "gif", options));
}

/** [height, width] of a grid frame of columns of these sizes: the label band above, gaps between. */
export function gridFrameSize(columns: readonly { height: number; width: number }[], options: GridOptions = {}): [number, number] {
  const gap = options.gap ?? 4;
  const bodyHeight = Math.max(...columns.map((c) => c.height));
  const labelHeight = options.labelHeight ?? Math.max(24, Math.round(bodyHeight * 0.07));
  return [labelHeight + bodyHeight, columns.reduce((w, c) => w + c.width, 0) + gap * (columns.length - 1)];
}

/** Compose labelled columns side by side (source | reconstruction | edit …) into one grid clip. */
export async function makeGrid(columns: GridColumn[], options: GridOptions = {}): Promise<VideoClip> {
  if (columns.length === 0) throw new Error("makeGrid: no columns");
  for (const c of columns) checkClip(c.clip);
  const count = columns[0].clip.count;
  const bad = columns.find((c) => c.clip.count !== count);
  if (bad) throw new Error(`makeGrid: column "${bad.label}" has ${bad.clip.count} frames but "${columns[0].label}" has ${count}`);
  const gap = options.gap ?? 4;
  const [height, width] = gridFrameSize(
    columns.map((c) => c.clip),
    options,
  );
  const labelHeight = height - Math.max(...columns.map((c) => c.clip.height));
  const lefts: number[] = [];
  for (let k = 0; k < columns.length; k++) lefts.push(k === 0 ? 0 : lefts[k - 1] + columns[k - 1].clip.width + gap);
  const band = await renderLabels(columns, lefts, width, labelHeight); // [labelHeight, width, 3]

  const frameBytes = height * width * 3;
  const frames = new Uint8Array(count * frameBytes).fill(255); // [F, height, width, 3], white gaps
  for (let f = 0; f < count; f++) {
    const base = f * frameBytes;
    frames.set(band, base);
    columns.forEach((c, k) => {
      const { width: w, height: h } = c.clip;
      for (let y = 0; y < h; y++) {
        const src = (f * h + y) * w * 3;
        frames.set(c.clip.frames.subarray(src, src + w * 3), base + ((labelHeight + y) * width + lefts[k]) * 3);
      }
    });
  }
  return { frames, count, height, width, source: `grid(${columns.map((c) => c.label).join(" | ")})`, fps: columns[0].clip.fps };
}

/** Write a labelled grid: `.mp4` or `.gif` by extension, else a folder with one PNG grid per frame. */
export async function writeGrid(target: string, columns: GridColumn[], options: GridOptions = {}): Promise<VideoClip> {
  const ext = path.extname(target).toLowerCase();
  if (ext !== "" && ext !== ".mp4" && ext !== ".gif") {
    throw new Error(`writeGrid: ${target} must end in .mp4 or .gif, or name a folder (one PNG per frame)`);
  }
  const grid = await makeGrid(columns, options);
  const fps = options.fps ?? grid.fps;
  if (ext === ".mp4") await writeMp4(target, grid, fps);
  else if (ext === ".gif") await writeGif(target, grid, fps);
  else await writeFrames(target, grid);
  return grid;
}

/** The label band: each label centred above its column in DejaVu Sans, black on white, via an SVG. */
async function renderLabels(columns: GridColumn[], lefts: number[], width: number, height: number): Promise<Buffer> {
  const fontSize = Math.max(10, Math.round(height * 0.6));
  const texts = columns.map((c, k) => {
    // DejaVu Sans glyphs average under 0.62 em: shrink a long label to its column, down to 8 px, then cut it.
    const room = c.clip.width - 8;
    const size = Math.max(8, Math.min(fontSize, Math.floor(room / (0.62 * Math.max(1, c.label.length)))));
    const maxChars = Math.floor(room / (0.62 * size));
    const label = c.label.length > maxChars ? `${c.label.slice(0, Math.max(0, maxChars - 1))}…` : c.label;
    const x = lefts[k] + c.clip.width / 2;
    const attributes = `x="${x}" y="${height / 2}" font-size="${size}" text-anchor="middle" dominant-baseline="central"`;
    return `<text ${attributes}>${escapeXml(label)}</text>`;
  });
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="#ffffff"/>` +
    `<g font-family="DejaVu Sans, sans-serif" fill="#000000">${texts.join("")}</g></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new Error(`label band rendered as ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×3`);
  }
  return data;
}

/** Text for an SVG label: markup characters escaped, control characters (which XML cannot hold) shown as "�". */
function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "\ufffd")
    .replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] as string);
}

function checkClip(clip: VideoClip): void {
  const { count, height, width } = clip;
  if (![count, height, width].every((v) => Number.isInteger(v) && v > 0) || clip.frames.length !== count * height * width * 3) {
    throw new Error(`not a clip: ${clip.frames.length} bytes for ${count}×${height}×${width}×3 (${clip.source})`);
  }
}

/** A temporary output: `.<name>.<pid>.<8 hex>.tmp<ext>`. */
const TEMP_OUTPUT = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp(\.[^.]+)?$/;

/** Run `write(tmp)` on a temporary path beside `file`, then rename it into place; the temp is removed on failure. */
async function atomicWrite(file: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  // A write killed midway leaves its hidden temporary file: the next write into the folder removes it.
  removeOrphans(dir, TEMP_OUTPUT);
  // Keep the extension on the temp name: ffmpeg and viewers look at it.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp${path.extname(file)}`);
  try {
    await write(tmp);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Pipe a clip's raw RGB frames into ffmpeg and encode them to `out` in `format` with the given output options. */
function encodeRaw(clip: VideoClip, fps: number, out: string, format: string, options: string[]): Promise<void> {
  if (!(fps > 0)) throw new Error(`frame rate must be positive, got ${fps}`);
  const bytes = Buffer.from(clip.frames.buffer, clip.frames.byteOffset, clip.frames.byteLength); // [F, H, W, 3]
  return new Promise<void>((resolve, reject) => {
    ffmpegCommand()
      .input(Readable.from([bytes]))
      .inputFormat("rawvideo")
      .inputOptions(["-hide_banner", "-pix_fmt", "rgb24", "-s", `${clip.width}x${clip.height}`, "-framerate", String(fps)])
      .outputOptions(options)
      .format(format)
      .on("error", (err: Error, _stdout: string | null, stderr: string | null) => {
        const tail = (stderr ?? "").trim().split("\n").slice(-3).join(" | ");
        reject(new Error(`ffmpeg could not write ${format} (${err.message.split("\n")[0]}): ${tail}`));
      })
      .on("end", () => resolve())
      .save(out);
  });
}
