// Writes a built graph into the graph cache and opens it with ONNX Runtime. ONNX Runtime only reads
// external data that lies inside the model's folder (it resolves symlinks and refuses paths that
// leave it), so each checkpoint file is hard-linked into the cache once (copied only where the file
// system cannot link) and every graph folder hard-links that copy: the weights are never duplicated
// per graph, and a fresh process reuses graphs built earlier.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import type { Graph } from "./graph";
import type { LinkedFile } from "./weightSource";

/** The cache folder: `$FATEZERO_CACHE`, else `~/.cache/fatezero`. */
export function defaultCacheDir(): string {
  return process.env.FATEZERO_CACHE || path.join(os.homedir(), ".cache", "fatezero");
}

/** Options for opening a graph. */
export interface SessionOptions {
  cacheDir?: string;
  /** ONNX Runtime intra-op threads (default: its own choice, all cores). */
  threads?: number;
}

/** Serialize `graph` into the cache (if not already there) and return the model file's path. */
export function writeGraph(graph: Graph, files: LinkedFile[], cacheDir = defaultCacheDir()): string {
  const bytes = onnx.ModelProto.encode(graph.toModel()).finish();
  const hash = crypto.createHash("sha256").update(bytes);
  const stored = files.map((f) => ({ ...f, stored: storeWeightFile(f.path, cacheDir) }));
  for (const f of stored) hash.update(`\0${f.location}\0${f.stored}`);
  const dir = path.join(cacheDir, "graphs", `${graph.name}-${hash.digest("hex").slice(0, 20)}`);
  const modelPath = path.join(dir, "model.onnx");
  if (fs.existsSync(modelPath)) return modelPath;
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    fs.writeFileSync(path.join(tmp, "model.onnx"), bytes);
    for (const f of stored) linkOrCopy(f.stored, path.join(tmp, f.location));
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(modelPath)) throw e; // another process finished the same graph first
  }
  return modelPath;
}

/** Build (or reuse) `graph` and open an ONNX Runtime session on it. */
export async function openSession(graph: Graph, files: LinkedFile[], options: SessionOptions = {}): Promise<ort.InferenceSession> {
  const modelPath = writeGraph(graph, files, options.cacheDir);
  return ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: "all",
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  });
}

/** Put a checkpoint file into the cache's weight store, keyed by its identity; returns the stored path. */
function storeWeightFile(source: string, cacheDir: string): string {
  const real = fs.realpathSync(source);
  const st = fs.statSync(real);
  const key = crypto.createHash("sha256").update(`${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}`).digest("hex").slice(0, 20);
  const stored = path.join(cacheDir, "weights", `${key}${path.extname(real)}`);
  if (fs.existsSync(stored)) return stored;
  fs.mkdirSync(path.dirname(stored), { recursive: true });
  const tmp = `${stored}.tmp-${process.pid}`;
  try {
    linkOrCopy(real, tmp);
    fs.renameSync(tmp, stored);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (!fs.existsSync(stored)) throw e;
  }
  return stored;
}

function linkOrCopy(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK" && code !== "ENOTSUP") throw e;
    fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE);
  }
}
