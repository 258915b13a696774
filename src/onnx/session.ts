// Writes a built graph into the graph cache and opens it with ONNX Runtime. ONNX Runtime only reads external
// data inside the model's folder, so the weights are copied into the cache's weight store once
// (weightStore.ts) and every graph folder hard-links those copies: the weights are never duplicated per
// graph, and a fresh process reuses graphs built earlier. A cached graph is checked before use (its model
// file's hash, and that its links are the store's current copies) and rebuilt when it fails the check or
// ONNX Runtime cannot load it.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { markedCacheFolder } from "../util/cacheDir";
import { removeOrphans } from "../util/orphans";
import type { Device } from "./device";
import type { Graph } from "./graph";
import type { LinkedFile } from "./weightSource";
import { storeWeights } from "./weightStore";

/** The cache folder: `$FATEZERO_CACHE`, else `~/.cache/fatezero`. */
export function defaultCacheDir(): string {
  return process.env.FATEZERO_CACHE || path.join(os.homedir(), ".cache", "fatezero");
}

/** Options for opening a graph. */
export interface SessionOptions {
  cacheDir?: string;
  /** ONNX Runtime intra-op threads (default: its own choice, all cores). */
  threads?: number;
  /** The execution provider (default: the CPU); see device.ts. */
  device?: Device;
  /**
   * Return working memory to the system after each run instead of keeping it in ONNX Runtime's arena (which
   * holds a session's peak for good): for graphs run rarely with large activations, such as the VAE.
   */
  releaseMemory?: boolean;
}

/** What a graph folder records about itself, checked before the folder is used. */
interface GraphRecord {
  modelSha256: string;
  links: { location: string; inode: number }[];
}

const RECORD = "graph.json";
const TMP = /\.tmp-(\d+)-\d+$/;

/** Serialize `graph` into the cache (unless an intact copy is there) and return the model file's path. */
export function writeGraph(graph: Graph, files: LinkedFile[], cacheDir = defaultCacheDir()): string {
  const identity = graph.cacheIdentity();
  const stored = files.map((f) => ({ ...f, stored: storeWeights(f.path, cacheDir) }));
  const hash = crypto.createHash("sha256").update(identity.key);
  for (const f of stored) hash.update(`\0${f.location}\0${f.stored.sha256}`);
  const graphs = path.join(markedCacheFolder(cacheDir, true), "graphs");
  const dir = path.join(graphs, `${graph.name}-${hash.digest("hex").slice(0, 20)}`);
  const modelPath = path.join(dir, "model.onnx");
  const links = stored.map((f) => ({ location: f.location, inode: fs.statSync(f.stored.path).ino }));
  // Without the bytes (a derived graph), the folder's own record says which model file it must hold.
  const expectedSha256 = identity.bytes && sha256(identity.bytes);
  if (intact(dir, expectedSha256, links)) return modelPath;
  const bytes = identity.bytes ?? onnx.ModelProto.encode(graph.toModel()).finish();
  const modelSha256 = expectedSha256 ?? sha256(bytes);
  fs.rmSync(dir, { recursive: true, force: true });
  removeOrphans(graphs, TMP);
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    fs.writeFileSync(path.join(tmp, "model.onnx"), bytes);
    for (const f of stored) linkOrCopy(f.stored.path, path.join(tmp, f.location));
    const record: GraphRecord = {
      modelSha256,
      links: stored.map((f) => ({ location: f.location, inode: fs.statSync(path.join(tmp, f.location)).ino })),
    };
    fs.writeFileSync(path.join(tmp, RECORD), `${JSON.stringify(record)}\n`);
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(modelPath)) throw e; // another process finished the same graph first
  }
  return modelPath;
}

function sha256(bytes: Uint8Array): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

/** Whether a graph folder holds exactly this model (or, given none, the model its record names) and links to these copies. */
function intact(dir: string, modelSha256: string | undefined, links: { location: string; inode: number }[]): boolean {
  try {
    const record = JSON.parse(fs.readFileSync(path.join(dir, RECORD), "utf8")) as GraphRecord;
    if (modelSha256 !== undefined && record.modelSha256 !== modelSha256) return false;
    if (sha256(fs.readFileSync(path.join(dir, "model.onnx"))) !== record.modelSha256) return false;
    return links.every((l) => fs.statSync(path.join(dir, l.location)).ino === l.inode);
  } catch {
    return false;
  }
}

/** A graph folder of the cache with a readable record, and the names the record accounts for. */
export interface GraphFolder {
  dir: string;
  files: string[];
}

/** The cache's graph folders that carry their record (a stray file or link in graphs/ is not one); nothing is followed through a link. */
export function graphFolders(cacheDir: string): GraphFolder[] {
  const graphs = path.join(cacheDir, "graphs");
  if (!fs.lstatSync(graphs, { throwIfNoEntry: false })?.isDirectory()) return [];
  return fs.readdirSync(graphs, { withFileTypes: true }).flatMap((e) => {
    const dir = path.join(graphs, e.name);
    if (!e.isDirectory() || TMP.test(e.name) || !fs.lstatSync(path.join(dir, RECORD), { throwIfNoEntry: false })?.isFile()) return [];
    try {
      const record = JSON.parse(fs.readFileSync(path.join(dir, RECORD), "utf8")) as GraphRecord;
      const links = record.links.map((l) => l.location);
      if (!links.every((l) => typeof l === "string" && l === path.basename(l) && l !== RECORD)) return [];
      return [{ dir, files: [RECORD, "model.onnx", ...links] }];
    } catch {
      return [];
    }
  });
}

/** Build (or reuse) `graph` and open an ONNX Runtime session on it; a cached graph that fails to load is rebuilt once. */
export async function openSession(graph: Graph, files: LinkedFile[], options: SessionOptions = {}): Promise<ort.InferenceSession> {
  const settings = {
    graphOptimizationLevel: "all" as const,
    enableCpuMemArena: !options.releaseMemory,
    executionProviders: [options.device ?? "cpu"],
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  };
  const modelPath = writeGraph(graph, files, options.cacheDir);
  try {
    return await ort.InferenceSession.create(modelPath, settings);
  } catch (first) {
    fs.rmSync(path.dirname(modelPath), { recursive: true, force: true });
    const rebuilt = writeGraph(graph, files, options.cacheDir);
    try {
      return await ort.InferenceSession.create(rebuilt, settings);
    } catch (e) {
      const why = `${(e as Error).message} (first: ${(first as Error).message})`;
      throw new Error(`ONNX Runtime cannot load the ${graph.name} graph even after rebuilding it (${rebuilt}): ${why}`);
    }
  }
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
