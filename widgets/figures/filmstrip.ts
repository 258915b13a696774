// A static figure of clips: one labelled row per clip, its frames left to right. Notebook comparisons
// (source / reconstruction / edit, with / without a control) are saved and shown this way.
import sharp, { type OverlayOptions } from "sharp";
import type { VideoClip } from "../../src/video/readVideo";

/** One row of a filmstrip. */
export interface FilmstripRow {
  label: string;
  clip: VideoClip;
}

/** Layout of a filmstrip. */
export interface FilmstripOptions {
  /** Height of each frame tile in px (default 128; width keeps the clip's aspect). */
  tile?: number;
  /** Width of the label column in px (default 170). */
  labelWidth?: number;
  /** Space between tiles and rows in px (default 4). */
  gap?: number;
}

/** Render rows of frames with labels on the left as one PNG. */
export async function filmstripPng(rows: FilmstripRow[], options: FilmstripOptions = {}): Promise<Buffer> {
  if (rows.length === 0) throw new Error("filmstrip: no rows");
  const tile = options.tile ?? 128;
  const labelWidth = options.labelWidth ?? 170;
  const gap = options.gap ?? 4;
  const tiles = rows.map((r) => Math.round((tile * r.clip.width) / r.clip.height));
  const width = labelWidth + Math.max(...rows.map((r, i) => r.clip.count * (tiles[i] + gap)));
  const height = rows.length * (tile + gap) - gap;
  const layers: OverlayOptions[] = [
    {
      input: Buffer.from(
        labelsSvg(
          rows.map((r) => r.label),
          labelWidth,
          tile,
          gap,
          height,
        ),
      ),
      left: 0,
      top: 0,
    },
  ];
  for (const [k, row] of rows.entries()) {
    const { clip } = row;
    const plane = clip.height * clip.width * 3;
    for (let f = 0; f < clip.count; f++) {
      const frame = clip.frames.subarray(f * plane, (f + 1) * plane); // [H, W, 3]
      const input = await sharp(frame, { raw: { width: clip.width, height: clip.height, channels: 3 } })
        .resize(tiles[k], tile, { kernel: "nearest" })
        .png()
        .toBuffer();
      layers.push({ input, left: labelWidth + f * (tiles[k] + gap), top: k * (tile + gap) });
    }
  }
  return sharp({ create: { width, height, channels: 3, background: "#ffffff" } })
    .composite(layers)
    .png()
    .toBuffer();
}

/** The label column: each label centred vertically on its row, shrunk to fit. */
function labelsSvg(labels: string[], width: number, tile: number, gap: number, height: number): string {
  const texts = labels.map((label, k) => {
    // DejaVu Sans glyphs average under 0.62 em.
    const size = Math.max(8, Math.min(15, Math.floor((width - 10) / (0.62 * Math.max(1, label.length)))));
    const y = k * (tile + gap) + tile / 2;
    return `<text x="${width - 8}" y="${y}" font-size="${size}" text-anchor="end" dominant-baseline="central">${escapeXml(label)}</text>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`;
  return `${svg}<g font-family="DejaVu Sans, sans-serif" fill="#000">${texts.join("")}</g></svg>`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] as string);
}
