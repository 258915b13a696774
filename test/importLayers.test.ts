// The folder layout is the architecture: every import goes down the layer list below (or stays in its own
// folder), and no module imports itself through a circle. A new upward import or circle fails here.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(__dirname, "..", "..");

/** Folders from the bottom layer to the top; a folder may import only from folders listed before it. */
export const LAYERS = [
  "src/util",
  "src/checkpoint",
  "src/tokenizer",
  "src/scheduler",
  "src/onnx",
  "src/networks",
  "src/video",
  "src/world",
  "src/fatezero",
  "src/config",
  "src/pipeline",
  "src/reference",
  "src",
  "kernel",
  "widgets/shared",
  "widgets/frontend",
  "widgets/comm",
  "widgets/charts",
  "widgets/kernelSide",
  "widgets/figures",
  "widgets/build",
  "widgets",
  "cli",
];

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.[^"']+)["']|\bimport\(\s*["'](\.[^"']+)["']\s*\)|\brequire\(\s*["'](\.[^"']+)["']\s*\)/g;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name === "labextension" ? [] : sourceFiles(rel);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [rel] : [];
  });
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = path.normalize(path.join(path.dirname(from), spec));
  for (const candidate of [`${base}.ts`, path.join(base, "index.ts")]) if (fs.existsSync(path.join(ROOT, candidate))) return candidate;
  return undefined;
}

function layerOf(file: string): number {
  const dir = path.dirname(file);
  const i = LAYERS.indexOf(dir);
  assert.notEqual(i, -1, `${file}: its folder ${dir} is not in the layer list of test/importLayers.test.ts`);
  return i;
}

/** file → the project files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of ["src", "kernel", "widgets", "cli"].flatMap(sourceFiles)) {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    const targets: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const target = resolveImport(file, m[1] ?? m[2] ?? m[3]);
      if (target) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

test("every import goes down the layer list or stays in its folder", () => {
  const upward: string[] = [];
  for (const [file, targets] of importGraph()) {
    for (const target of targets) {
      const [a, b] = [layerOf(file), layerOf(target)];
      if (path.dirname(file) !== path.dirname(target) && b >= a) upward.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(upward, []);
});

test("no module imports itself through a circle", () => {
  const graph = importGraph();
  const state = new Map<string, "open" | "done">();
  const circles: string[] = [];
  const visit = (file: string, trail: string[]): void => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      circles.push([...trail.slice(trail.indexOf(file)), file].join(" → "));
      return;
    }
    state.set(file, "open");
    for (const t of graph.get(file) ?? []) visit(t, [...trail, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(circles, []);
});

test("the layer check sees imports in all their forms", () => {
  const forms = ['import { a } from "./x";', 'export * from "../y";', 'import type { B } from "./z";', 'const m = require("./w");'];
  const found = forms.map((f) => [...f.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3]));
  assert.deepEqual(found, [["./x"], ["../y"], ["./z"], ["./w"]]);
});
