// Locating an ffmpeg binary and handing fluent-ffmpeg commands that use it. Order: the user's
// FATEZERO_FFMPEG, then the binary shipped inside the npm package @ffmpeg-installer/ffmpeg (no download at
// run time), then `ffmpeg` on PATH. Each candidate must answer `-version`, so a broken path fails here, once,
// with a message that names what was tried, instead of deep inside a decode.
import { spawnSync } from "node:child_process";
import ffmpeg from "fluent-ffmpeg";

/** The environment variable that overrides which ffmpeg binary is used. */
export const FFMPEG_ENV = "FATEZERO_FFMPEG";

let resolved: string | undefined;
let encoders: Set<string> | undefined;

/** Whether `bin -version` runs and exits 0 (with the reason when not). */
function probe(bin: string): { ok: true } | { ok: false; why: string } {
  const r = spawnSync(bin, ["-hide_banner", "-version"], { encoding: "utf8", timeout: 20_000 });
  if (r.error) return { ok: false, why: r.error.message };
  if (r.status !== 0) return { ok: false, why: `exit ${r.status}: ${(r.stderr || "").trim().split("\n").pop() ?? ""}` };
  return { ok: true };
}

/** The path of the npm-shipped ffmpeg, or undefined when that package (or its platform binary) is absent. */
function npmFfmpegPath(): string | undefined {
  try {
    // Required lazily: the package throws at require time on platforms it has no binary for.
    const mod = require("@ffmpeg-installer/ffmpeg") as { path?: string };
    return typeof mod.path === "string" ? mod.path : undefined;
  } catch {
    return undefined;
  }
}

/** The ffmpeg binary to use (env override, npm package, PATH), checked to run; throws a clear error if none does. */
export function ffmpegPath(): string {
  if (resolved !== undefined) return resolved;
  const override = process.env[FFMPEG_ENV];
  if (override !== undefined && override !== "") {
    // An explicit choice that does not work is an error, never a silent fallback to another binary.
    const p = probe(override);
    if (!p.ok) throw new Error(`${FFMPEG_ENV}=${override} is not a working ffmpeg (${p.why})`);
    resolved = override;
    return resolved;
  }
  const tried: string[] = [];
  const npmPath = npmFfmpegPath();
  if (npmPath !== undefined) {
    const p = probe(npmPath);
    if (p.ok) return (resolved = npmPath);
    tried.push(`${npmPath} from @ffmpeg-installer/ffmpeg (${p.why})`);
  } else {
    tried.push("@ffmpeg-installer/ffmpeg (not installed for this platform)");
  }
  const p = probe("ffmpeg");
  if (p.ok) return (resolved = "ffmpeg");
  tried.push(`ffmpeg on PATH (${p.why})`);
  throw new Error(
    `no working ffmpeg found; tried: ${tried.join("; ")}. ` +
      `Set ${FFMPEG_ENV}=/path/to/ffmpeg, run \`npm install @ffmpeg-installer/ffmpeg\`, or install ffmpeg on PATH.`,
  );
}

/** A fluent-ffmpeg command bound to the resolved binary. */
export function ffmpegCommand(): ffmpeg.FfmpegCommand {
  return ffmpeg().setFfmpegPath(ffmpegPath());
}

/** Whether the resolved ffmpeg can encode with `name` (e.g. "libx264"); the list is read once. */
export function hasEncoder(name: string): boolean {
  if (encoders === undefined) {
    const r = spawnSync(ffmpegPath(), ["-hide_banner", "-encoders"], { encoding: "utf8", timeout: 20_000 });
    encoders = new Set<string>();
    // Lines look like " V..... libx264    libx264 H.264 / AVC …"; the second field is the encoder name.
    for (const line of (r.stdout || "").split("\n")) {
      const m = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
      if (m) encoders.add(m[1]);
    }
  }
  return encoders.has(name);
}

/** Forget the resolved binary and its encoder list (after changing FATEZERO_FFMPEG). */
export function resetFfmpeg(): void {
  resolved = undefined;
  encoders = undefined;
}
