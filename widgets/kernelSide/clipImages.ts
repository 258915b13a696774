// Frames travel to the frontend as encoded images in comm buffers (never JSON arrays): JPEG for photos,
// scaled down so that a scrubber of three clips stays a few hundred kilobytes per update.
import sharp from "sharp";
import type { VideoClip } from "../../src/video/readVideo";
import type { ClipFrames } from "../shared/widgetStates";

/** How frames are encoded for display. */
export interface ClipImageOptions {
  /** Longest side in pixels; larger frames are scaled down (default 256). */
  maxSide?: number;
  format?: "jpeg" | "png";
  /** JPEG quality 1…100 (default 85). */
  quality?: number;
}

/** Encode every frame of a clip (u8 [F, H, W, 3]) as JPEG or PNG for a widget's state. */
export async function clipImages(clip: VideoClip, options: ClipImageOptions = {}): Promise<ClipFrames> {
  const maxSide = options.maxSide ?? 256;
  const format = options.format ?? "jpeg";
  const scale = Math.min(1, maxSide / Math.max(clip.width, clip.height));
  const width = Math.max(1, Math.round(clip.width * scale));
  const height = Math.max(1, Math.round(clip.height * scale));
  const plane = clip.height * clip.width * 3;
  const frames = await Promise.all(
    Array.from({ length: clip.count }, (_, f) => {
      let image = sharp(clip.frames.subarray(f * plane, (f + 1) * plane), { raw: { width: clip.width, height: clip.height, channels: 3 } });
      if (scale < 1) image = image.resize(width, height);
      return (format === "png" ? image.png() : image.jpeg({ quality: options.quality ?? 85 })).toBuffer();
    }),
  );
  return {
    mime: format === "png" ? "image/png" : "image/jpeg",
    width,
    height,
    frames: frames.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
  };
}
