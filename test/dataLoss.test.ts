// Issue 33's data-loss rows, replayed as a careless or unlucky user runs them: the cache and the commands that
// write folders never delete or overwrite a file they did not write, never follow a link out of what they
// manage, and refuse what is not theirs with exit 2 and a message naming the flag or variable. The ~ cases run
// in a temporary home folder, never the real one.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { ensureTinyModel } from "../src/fatezero/loadModel";
import { storeWeights } from "../src/onnx/weightStore";
import { EDIT_WRITER } from "../src/pipeline/runEditPlan";
import { CACHEDIR_SIGNATURE, CACHEDIR_TAG } from "../src/util/cacheDir";
import { writeManifest } from "../src/util/folderManifest";
import { trainingDataBytes } from "../src/world/trainingData";
import { miniatureWorldModelSpec, worldModelSpec } from "../src/world/worldModel";
import { tempDir } from "./sharedData";
import { assertRefused } from "./support/cliRun";
import { pythonMissing } from "./support/pythonEnv";

const BIN = path.resolve("bin/fatezero.js");

/** Run the CLI with `env` over a scratch HOME and no FATEZERO_CACHE of the caller's, in `cwd`. */
function fatezero(args: string[], options: { env?: Record<string, string>; cwd?: string; home?: string } = {}) {
  const env: Record<string, string | undefined> = { ...process.env, HOME: options.home ?? tempDir("dl-home"), ...options.env };
  if (options.env?.FATEZERO_CACHE === undefined) delete env.FATEZERO_CACHE;
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env, cwd: options.cwd, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const refused = assertRefused;

/** Every file under `dir` with its content (links as "-> target"), to compare before and after. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const p = path.join(dir, rel);
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) out[rel] = `-> ${fs.readlinkSync(p)}`;
    else if (st.isFile()) out[rel] = fs.readFileSync(p, "latin1");
  }
  return out;
}

/** A home folder holding what a user keeps there under the names the cache uses for its sections. */
function userHome(): string {
  const home = tempDir("dl-user-home");
  for (const [rel, text] of [
    ["models/world/model_index.json", "my model"],
    ["weights/paper.safetensors", "my weights"],
    ["graphs/plot.svg", "<svg/>"],
    ["inversions/notes.txt", "mine"],
    ["skeleton/thesis.tex", "\\documentclass{article}"],
    ["data/meta.json", "{}"],
  ]) {
    fs.mkdirSync(path.dirname(path.join(home, rel)), { recursive: true });
    fs.writeFileSync(path.join(home, rel), text);
  }
  return home;
}

/** A cache folder made by the cache itself, holding one weight copy (whose source is `source`). */
function realCache(source: string): string {
  const cache = path.join(tempDir("dl-cache"), "cache");
  fs.writeFileSync(source, Buffer.alloc(64, 7));
  storeWeights(source, cache);
  return cache;
}

test("N1: cache prune --all and cache list refuse a home folder without CACHEDIR.TAG (--cache-dir ~, FATEZERO_CACHE=~ and =.)", () => {
  const home = userHome();
  const before = snapshot(home);
  for (const [args, env, cwd, named] of [
    [["cache", "prune", "--all", "--cache-dir", home], {}, undefined, /--cache-dir /],
    [["cache", "prune", "--all"], { FATEZERO_CACHE: home }, undefined, /FATEZERO_CACHE /],
    [["cache", "prune", "--all"], { FATEZERO_CACHE: "." }, home, /FATEZERO_CACHE /],
    [["cache", "prune"], { FATEZERO_CACHE: home }, undefined, /FATEZERO_CACHE /],
    [["cache", "list", "--cache-dir", home], {}, undefined, /--cache-dir /],
    [["cache", "list"], { FATEZERO_CACHE: "." }, home, /FATEZERO_CACHE /],
  ] as const) {
    const r = fatezero([...args], { env, cwd, home });
    refused(r, named, args.join(" "));
    assert.match(r.err, /no CACHEDIR\.TAG, so it is not a fatezero cache/, args.join(" "));
    assert.equal(r.out, "", `${args.join(" ")}: nothing listed as cache entries`);
  }
  assert.deepEqual(snapshot(home), before, "nothing in the home folder changed");
});

test("N1: the cache tags the folder it creates, and prune --all deletes only the entries it recorded", () => {
  const cache = realCache(path.join(tempDir("dl-src"), "w.safetensors"));
  assert.ok(fs.readFileSync(path.join(cache, CACHEDIR_TAG), "latin1").startsWith(CACHEDIR_SIGNATURE), "the weight store tagged the folder");
  const other = path.join(tempDir("dl-tiny"), "cache");
  ensureTinyModel(other);
  assert.ok(fs.readFileSync(path.join(other, CACHEDIR_TAG), "latin1").startsWith(CACHEDIR_SIGNATURE), "the tiny model tagged the folder");
  fs.cpSync(path.join(other, "models"), path.join(cache, "models"), { recursive: true });
  fs.writeFileSync(path.join(cache, "models", "my-notes.txt"), "mine");
  fs.writeFileSync(path.join(cache, "weights", "paper.pdf"), "mine");
  fs.mkdirSync(path.join(cache, "inversions"));
  fs.writeFileSync(path.join(cache, "inversions", "todo.txt"), "mine");

  const r = fatezero(["cache", "prune", "--all", "--cache-dir", cache]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /paper\.pdf: not recorded by the cache, kept/);
  assert.deepEqual(fs.readdirSync(path.join(cache, "weights")), ["paper.pdf"], "the recorded copy and its record are gone");
  assert.deepEqual(fs.readdirSync(path.join(cache, "models")), ["my-notes.txt"], "the generated model is gone");
  assert.equal(fs.readFileSync(path.join(cache, "inversions", "todo.txt"), "utf8"), "mine");
  assert.ok(fs.existsSync(path.join(cache, CACHEDIR_TAG)), "the cache keeps its mark");
});

test("N1: a cache of an older version (no tag, only cache entries) is adopted and tagged; one with a foreign file is not", () => {
  const cache = realCache(path.join(tempDir("dl-src"), "w.safetensors"));
  fs.rmSync(path.join(cache, CACHEDIR_TAG));
  const r = fatezero(["cache", "list", "--cache-dir", cache]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /weights: 1 entries/);
  assert.ok(fs.existsSync(path.join(cache, CACHEDIR_TAG)), "adopted");
  fs.rmSync(path.join(cache, CACHEDIR_TAG));
  fs.writeFileSync(path.join(cache, "README.md"), "mine");
  refused(
    fatezero(["cache", "prune", "--all", "--cache-dir", cache]),
    /--cache-dir .*: holds README\.md and no CACHEDIR\.TAG/,
    "foreign file",
  );
  assert.equal(fs.readdirSync(path.join(cache, "weights")).length, 2, "the copy and its record are still there");
});

test("N2: plain cache prune never follows a weights link out of the cache and keeps unrecorded files", () => {
  const source = path.join(tempDir("dl-src"), "w.safetensors");
  const cache = realCache(source);
  fs.writeFileSync(path.join(cache, "weights", "paper.pdf"), "mine, in the store");
  fs.rmSync(source); // the recorded copy is now stale: prune removes it
  let r = fatezero(["cache", "prune", "--cache-dir", cache]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(fs.readdirSync(path.join(cache, "weights")), ["paper.pdf"], "only the recorded stale copy and its record went");
  assert.match(r.out, /paper\.pdf: not recorded by the cache, kept/);

  const data = tempDir("dl-data");
  fs.writeFileSync(path.join(data, "paper.pdf"), "mine");
  fs.writeFileSync(path.join(data, "0123456789abcdef0123.safetensors.tmp-1"), "mine too");
  fs.rmSync(path.join(cache, "weights"), { recursive: true });
  fs.symlinkSync(data, path.join(cache, "weights"));
  const before = snapshot(data);
  for (const args of [
    ["cache", "prune"],
    ["cache", "prune", "--all"],
    ["cache", "list"],
  ]) {
    r = fatezero([...args, "--cache-dir", cache]);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
  }
  assert.match(r.out, /weights is a link .*: left alone, nothing is deleted through it/);
  assert.deepEqual(snapshot(data), before, "nothing behind the link changed");
  assert.ok(fs.lstatSync(path.join(cache, "weights")).isSymbolicLink());
});

test("N3: world-training-data refuses a folder it did not write (--out ~) and replaces only its own unchanged export", () => {
  const home = userHome();
  const before = snapshot(home);
  refused(
    fatezero(["world-training-data", "--out", home, "--clips", "1", "--miniature"], { home }),
    /--out .*: holds data, graphs, inversions, …; it has no record of fatezero world-training-data/,
    "--out ~",
  );
  const inside = path.join(home, "data");
  refused(
    fatezero(["world-training-data", "--out", inside, "--clips", "1", "--miniature"], { home }),
    /--out .*data: holds meta\.json/,
    "--out ~/data",
  );
  assert.deepEqual(snapshot(home), before, "nothing in the home folder changed");

  const work = path.join(tempDir("dl-train"), "world");
  for (const clips of ["2", "1"]) {
    const r = fatezero(["world-training-data", "--out", work, "--clips", clips, "--miniature"]);
    assert.equal(r.code, 0, r.err);
  }
  assert.equal(JSON.parse(fs.readFileSync(path.join(work, "data", "meta.json"), "utf8")).clips, 1, "the earlier export was replaced");
  assert.ok(fs.existsSync(path.join(work, "skeleton", "model_index.json")), "train/run.sh's contract: <out>/skeleton");
  fs.writeFileSync(path.join(work, "checkpoint.pt"), "the trainer's");
  refused(
    fatezero(["world-training-data", "--out", work, "--clips", "1", "--miniature"]),
    /--out .*world: .*checkpoint\.pt is not a file fatezero world-training-data wrote/,
    "a file added beside the export",
  );
  assert.equal(fs.readFileSync(path.join(work, "checkpoint.pt"), "utf8"), "the trainer's");
});

test("N4: world refuses a user folder shaped like a clip, and an earlier clip with a file the user added, naming the file", () => {
  const parent = tempDir("dl-world");
  const mine = path.join(parent, "mine");
  fs.mkdirSync(path.join(mine, "frames"), { recursive: true });
  fs.writeFileSync(path.join(mine, "world.json"), "{}");
  fs.writeFileSync(path.join(mine, "frames", "my-edit.png"), "my edit");
  refused(
    fatezero(["world", "--seed", "1", "--frames", "1", "--size", "32", "--out", mine]),
    /--out .*mine: .*no record of fatezero world/,
    "user folder",
  );
  assert.equal(fs.readFileSync(path.join(mine, "frames", "my-edit.png"), "utf8"), "my edit");

  const clip = path.join(parent, "clip");
  assert.equal(fatezero(["world", "--seed", "1", "--frames", "1", "--size", "32", "--out", clip]).code, 0);
  fs.writeFileSync(path.join(clip, "masks", "notes.txt"), "mine");
  refused(
    fatezero(["world", "--seed", "2", "--frames", "1", "--size", "32", "--out", clip]),
    /--out .*clip: .*masks\/notes\.txt is not a file fatezero world wrote/,
    "a note in an earlier clip",
  );
  assert.equal(fs.readFileSync(path.join(clip, "masks", "notes.txt"), "utf8"), "mine");
  fs.rmSync(path.join(clip, "masks", "notes.txt"));
  fs.writeFileSync(path.join(clip, "frames", "00000.png"), "retouched by hand");
  refused(
    fatezero(["world", "--seed", "2", "--frames", "1", "--size", "32", "--out", clip]),
    /frames\/00000\.png was changed/,
    "an edited frame",
  );
  assert.equal(fs.readFileSync(path.join(clip, "frames", "00000.png"), "utf8"), "retouched by hand");
});

test("N5: world-training-data checks the disk before writing, and a killed export publishes nothing and is cleaned by the next", async () => {
  const small = fs.existsSync("/dev/shm") ? fs.mkdtempSync("/dev/shm/fatezero-dl-") : tempDir("dl-disk");
  process.on("exit", () => fs.rmSync(small, { recursive: true, force: true }));
  const info = fs.statfsSync(small);
  assert.ok(
    info.bavail * info.bsize < trainingDataBytes(1_000_000, worldModelSpec()),
    "the test needs a file system with less than ~405 GB free",
  );
  const r = spawnSync(process.execPath, [BIN, "world-training-data", "--out", path.join(small, "w"), "--clips", "1000000"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  refused(
    { code: r.status, out: r.stdout, err: r.stderr },
    /--clips 1000000 --out .*: needs about 404\.\d GB in .*, which has .* free/,
    "--clips 1000000",
  );
  assert.deepEqual(fs.readdirSync(small), [], "nothing was written");

  const parent = tempDir("dl-kill");
  const work = path.join(parent, "world");
  const child = spawn(process.execPath, [BIN, "world-training-data", "--out", work, "--clips", "5000"], { stdio: "ignore" });
  const staging = await new Promise<string>((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const found = fs.readdirSync(parent).find((n) => n.endsWith(".staging"));
      if (found && fs.existsSync(path.join(parent, found, "data", "frames.u8"))) {
        clearInterval(poll);
        resolve(found);
      } else if (Date.now() - started > 120_000) {
        clearInterval(poll);
        reject(new Error("the export never started writing"));
      }
    }, 100);
  });
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  assert.ok(!fs.existsSync(work), "nothing was published: the set appears by one rename or not at all");
  assert.match(staging, new RegExp(`^\\.world\\.${child.pid}\\.[0-9a-f]{8}\\.staging$`), "the leftover names its writer");
  const again = fatezero(["world-training-data", "--out", work, "--clips", "1", "--miniature"]);
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(fs.readdirSync(parent), ["world"], "the killed run's staging folder is gone");
  const files = ["frames.u8", "ids.i32", "objectTokens.u8", "vehicle.u8"];
  assert.deepEqual(fs.readdirSync(path.join(work, "data")).sort(), [...files, "meta.json"].sort());
  const written = files.reduce((sum, f) => sum + fs.statSync(path.join(work, "data", f)).size, 0);
  assert.equal(trainingDataBytes(1, miniatureWorldModelSpec()), written, "the estimate is what one clip takes");
});

test("N16: world --out below a file, a link to an empty folder, a dangling link or an unwritable parent: exit 2 naming --out", () => {
  const dir = tempDir("dl-paths");
  const file = path.join(dir, "a-file");
  fs.writeFileSync(file, "mine");
  fs.mkdirSync(path.join(dir, "empty"));
  fs.symlinkSync(path.join(dir, "empty"), path.join(dir, "to-empty"));
  fs.symlinkSync(path.join(dir, "nowhere"), path.join(dir, "dangling"));
  for (const [out, message] of [
    [path.join(file, "clip"), /--out .*a-file\/clip: .*a-file is not a folder/],
    [path.join(dir, "to-empty"), /--out .*to-empty: is a symbolic link/],
    [path.join(dir, "dangling"), /--out .*dangling: is a symbolic link/],
    [path.join(dir, "dangling", "clip"), /--out .*dangling\/clip: .*dangling is not a folder/],
    ["/proc/fatezero-clip", /--out \/proc\/fatezero-clip: cannot write in \/proc/],
  ] as const) {
    refused(fatezero(["world", "--seed", "1", "--frames", "1", "--size", "32", "--out", out]), message, out);
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, "empty")), []);
  assert.ok(fs.lstatSync(path.join(dir, "to-empty")).isSymbolicLink() && fs.lstatSync(path.join(dir, "dangling")).isSymbolicLink());
});

test("N16: cache prune and list tolerate a stray file in graphs/; FATEZERO_CACHE naming a file or a missing folder is exit 2", () => {
  const cache = realCache(path.join(tempDir("dl-src"), "w.safetensors"));
  fs.mkdirSync(path.join(cache, "graphs"));
  fs.writeFileSync(path.join(cache, "graphs", "stray.txt"), "mine");
  for (const args of [
    ["cache", "list"],
    ["cache", "prune"],
    ["cache", "prune", "--all"],
  ]) {
    const r = fatezero([...args, "--cache-dir", cache]);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
  }
  assert.equal(fs.readFileSync(path.join(cache, "graphs", "stray.txt"), "utf8"), "mine");
  const missing = path.join(tempDir("dl-missing"), "nothing-here");
  for (const args of [
    ["cache", "list"],
    ["cache", "prune"],
  ]) {
    refused(fatezero(args, { env: { FATEZERO_CACHE: "/etc/passwd" } }), /FATEZERO_CACHE: \/etc\/passwd is not a folder/, "a file");
    const r = fatezero(args, { env: { FATEZERO_CACHE: missing } });
    refused(r, /FATEZERO_CACHE .*nothing-here: no such folder/, "missing");
    assert.doesNotMatch(r.out, /freed/);
  }
});

test("N17: world --out <a link to an earlier clip> is refused; the link and the clip stay as they were", () => {
  const dir = tempDir("dl-link");
  const clip = path.join(dir, "clip");
  assert.equal(fatezero(["world", "--seed", "1", "--frames", "1", "--size", "32", "--out", clip]).code, 0);
  const link = path.join(dir, "latest");
  fs.symlinkSync(clip, link);
  const before = snapshot(clip);
  refused(
    fatezero(["world", "--seed", "2", "--frames", "1", "--size", "32", "--out", link]),
    /--out .*latest: is a symbolic link \(to .*clip\); give the folder itself/,
    "link",
  );
  assert.ok(fs.lstatSync(link).isSymbolicLink(), "the user's link is still a link");
  assert.deepEqual(snapshot(clip), before);
});

test("N19: an empty --out or --cache-dir is refused (it would be the current folder)", () => {
  const cwd = tempDir("dl-empty");
  for (const [args, message] of [
    [["world", "--seed", "1", "--frames", "1", "--size", "32", "--out", ""], /--out: the path is empty/],
    [["world-training-data", "--out", "", "--clips", "1", "--miniature"], /--out: the path is empty/],
    [["make-tiny-model", ""], /random model: the path is empty/],
    [["cache", "list", "--cache-dir", ""], /--cache-dir: the path is empty/],
    [["cache", "prune", "--all", "--cache-dir", ""], /--cache-dir: the path is empty/],
    [["edit", "--model", "tiny", "--target", "a car", "--cache-dir", "", "--dry-run"], /--cache-dir: the path is empty/],
  ] as const) {
    refused(fatezero([...args], { cwd }), message, args.join(" "));
  }
  assert.deepEqual(fs.readdirSync(cwd), [], "the current folder is untouched");
  assert.ok(fs.existsSync(cwd));
});

/** A folder tree from `files` (relative path → content) under `dir`. */
function plant(dir: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
}

test("widgets install never deletes a user's folder at the target, and replaces only an install of ours (also one from before the manifest)", () => {
  const prefix = tempDir("dl-widgets");
  const target = path.join(prefix, "share", "jupyter", "labextensions", "fatezero-widgets");
  plant(target, { "package.json": '{"name": "fatezero-widgets"}', "src/index.ts": "my extension's source" });
  const before = snapshot(target);
  refused(
    fatezero(["widgets", "install", "--prefix", prefix]),
    /--prefix .*: the labextension folder .*fatezero-widgets: holds package\.json, src; .*no record of fatezero widgets install.*move it away/,
    "a user's folder",
  );
  assert.deepEqual(snapshot(target), before, "the user's folder is as it was");
  fs.rmSync(target, { recursive: true });
  const mine = tempDir("dl-widgets-dev");
  fs.symlinkSync(mine, target);
  refused(
    fatezero(["widgets", "install", "--prefix", prefix]),
    /--prefix .*fatezero-widgets: is a symbolic link/,
    "a link (labextension develop)",
  );
  assert.ok(fs.lstatSync(target).isSymbolicLink());
  fs.rmSync(target);

  // The retired nbextension: an earlier install's folder (only its AMD index.js) goes, a user's folder stays.
  const nbextensions = path.join(prefix, "share", "jupyter", "nbextensions");
  plant(nbextensions, {
    "fatezero-widgets/index.js": 'define(["base/js/namespace", "notebook/js/outputarea"], function (Jupyter, outputarea) {\n}',
  });
  let r = fatezero(["widgets", "install", "--prefix", prefix]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(fs.readdirSync(nbextensions), [], "the earlier nbextension is removed");
  assert.equal(fatezero(["widgets", "install", "--prefix", prefix]).code, 0, "its own install is replaced");
  plant(nbextensions, { "fatezero-widgets/my-notebook-tweaks.js": "mine" });
  fs.writeFileSync(path.join(target, "static", "mine.js"), "mine");
  refused(
    fatezero(["widgets", "install", "--prefix", prefix]),
    /static\/mine\.js is not a file fatezero widgets install wrote/,
    "a file added",
  );
  assert.equal(fs.readFileSync(path.join(target, "static", "mine.js"), "utf8"), "mine");
  fs.rmSync(path.join(target, "static", "mine.js"));
  r = fatezero(["widgets", "install", "--prefix", prefix]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /nbextensions\/fatezero-widgets is not the retired nbextension an earlier install wrote; left as it is/);
  assert.equal(fs.readFileSync(path.join(nbextensions, "fatezero-widgets", "my-notebook-tweaks.js"), "utf8"), "mine");

  // An install by the version before the manifest: the built extension and the install.json it wrote.
  fs.rmSync(target, { recursive: true });
  fs.cpSync(path.resolve("dist/widgets/labextension"), target, { recursive: true });
  const install = { packageManager: "npm", packageName: "fatezero-widgets", uninstallInstructions: `remove ${target}` };
  fs.writeFileSync(path.join(target, "install.json"), `${JSON.stringify(install, null, 2)}\n`);
  r = fatezero(["widgets", "install", "--prefix", prefix]);
  assert.equal(r.code, 0, r.err);
  assert.ok(fs.existsSync(path.join(target, ".fatezero-output.json")), "the earlier install was replaced by one with a manifest");
});

test("kernel install never replaces a user's kernelspec folder, and replaces an install of ours (also one from before the manifest)", () => {
  const prefix = tempDir("dl-kernel");
  const target = path.join(prefix, "share", "jupyter", "kernels", "fatezero");
  // kernel.json as the installer before the manifest wrote it (another Node, another checkout), plus `more`.
  const spec = (more: object = {}) => {
    const argv = ["/opt/node-18/bin/node", "/home/me/fatezero/dist/kernel/main.js", "{connection_file}"];
    const json = {
      argv,
      display_name: "FateZero (TypeScript)",
      language: "typescript",
      interrupt_mode: "signal",
      metadata: { debugger: false },
    };
    return `${JSON.stringify({ ...json, ...more }, null, 2)}\n`;
  };
  const theirs: Record<string, string>[] = [
    { "kernel.json": spec({ env: { FATEZERO_CACHE: "/data/cache" } }) },
    { "kernel.json": spec(), "logo-64x64.png": "my logo" },
    { "kernel.json": '{"argv": ["python", "-m", "my_kernel", "-f", "{connection_file}"]}' },
  ];
  for (const files of theirs) {
    fs.rmSync(target, { recursive: true, force: true });
    plant(target, files);
    refused(
      fatezero(["kernel", "install", "--prefix", prefix]),
      /--prefix .*: the kernelspec folder .*kernels\/fatezero: holds .*no record of fatezero kernel install.*move it away/,
      Object.keys(files).join(", "),
    );
    assert.deepEqual(snapshot(target), files, "the user's kernelspec is as it was");
  }
  fs.rmSync(target, { recursive: true });
  plant(target, { "kernel.json": spec() });
  for (let i = 0; i < 2; i++) {
    const r = fatezero(["kernel", "install", "--prefix", prefix]);
    assert.equal(r.code, 0, r.err);
  }
  assert.deepEqual(fs.readdirSync(target).sort(), [".fatezero-output.json", "kernel.json"]);
  assert.match(JSON.parse(fs.readFileSync(path.join(target, "kernel.json"), "utf8")).argv[1], /cli[/\\]kernelMain\.js$/);
});

/** `fatezero edit` on the world model's default clip, two frames and two steps (seconds), writing `out`. */
function edit(out: string, ...more: string[]) {
  return fatezero(["edit", "--target", "a red car", "--frames", "2", "--steps", "2", "--out", out, ...more]);
}

test("edit --out DIR never overwrites a user's file: a user's folder and an earlier output with a file added are refused", () => {
  const dir = tempDir("dl-edit-dir");
  const mine = path.join(dir, "mine");
  plant(mine, { "source.mp4": "my video", "edit0.mp4": "my other video" });
  refused(edit(mine), /--out .*mine: holds edit0\.mp4, source\.mp4; it has no record of fatezero edit/, "a user's folder");
  refused(edit(mine, "--dry-run"), /--out .*mine: holds edit0\.mp4, source\.mp4/, "a user's folder, dry run");
  assert.deepEqual(snapshot(mine), { "edit0.mp4": "my other video", "source.mp4": "my video" });

  const out = path.join(dir, "out");
  for (let i = 0; i < 2; i++) assert.equal(edit(out).code, 0, "written, then its own earlier output replaced");
  assert.deepEqual(fs.readdirSync(out).sort(), [".fatezero-output.json", "edit0.mp4", "edit1.mp4", "grid.mp4", "source.mp4"]);
  fs.writeFileSync(path.join(out, "notes.txt"), "mine");
  refused(edit(out, "--dry-run"), /--out .*out: .*notes\.txt is not a file fatezero edit wrote/, "a note added to an earlier output");
  assert.equal(fs.readFileSync(path.join(out, "notes.txt"), "utf8"), "mine");
  // An earlier run with four edits, whose last edit is this run's video: this run (two edits) would replace it.
  const four = path.join(dir, "four");
  fs.mkdirSync(four);
  for (const name of ["source.mp4", "edit0.mp4", "edit1.mp4", "edit2.mp4", "edit3.mp4", "grid.mp4"])
    fs.copyFileSync(path.join(out, "edit1.mp4"), path.join(four, name));
  writeManifest(four, EDIT_WRITER);
  refused(
    fatezero(["edit", "--video", path.join(four, "edit3.mp4"), "--source", "a car", "--target", "a red car", "--out", four, "--dry-run"]),
    /--out .*four: holds .*edit3\.mp4, an input of this run/,
    "an input inside the folder it would replace",
  );
});

test("edit --out file.mp4 never overwrites a file it did not write (the video, its grid, a link); its own earlier output is replaced", () => {
  const dir = tempDir("dl-edit-file");
  plant(dir, { "clip.mp4": "my video", "take.grid.mp4": "my grid", "elsewhere.mp4": "my other video" });
  fs.symlinkSync(path.join(dir, "elsewhere.mp4"), path.join(dir, "linked.mp4"));
  const before = snapshot(dir);
  for (const [name, message] of [
    ["clip.mp4", /--out .*clip\.mp4: .*clip\.mp4 exists and fatezero edit did not write it/],
    ["take.mp4", /--out .*take\.mp4: .*take\.grid\.mp4 exists and fatezero edit did not write it/],
    ["linked.mp4", /--out .*linked\.mp4: .*linked\.mp4 is a symbolic link/],
  ] as const) {
    refused(edit(path.join(dir, name)), message, name);
  }
  assert.deepEqual(snapshot(dir), before, "nothing in the folder changed");

  const out = path.join(dir, "new.mp4");
  for (let i = 0; i < 2; i++) assert.equal(edit(out).code, 0, "written, then its own earlier output replaced");
  fs.appendFileSync(path.join(dir, "new.grid.mp4"), "trimmed by hand");
  refused(edit(out, "--dry-run"), /new\.grid\.mp4 was changed after fatezero edit wrote it/, "an output edited since");
  assert.match(fs.readFileSync(path.join(dir, "new.grid.mp4"), "latin1"), /trimmed by hand$/);
});

test(
  "export-html never overwrites a file it did not write: the page, the module, the script folder",
  { skip: pythonMissing(["nbconvert"]) },
  () => {
    const dir = tempDir("dl-export");
    const notebook = { cells: [{ cell_type: "markdown", metadata: {}, source: ["hi"] }], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    fs.writeFileSync(path.join(dir, "nb.ipynb"), JSON.stringify(notebook));
    for (const [files, message] of [
      [{ "nb.html": "<p>my page</p>" }, /--out .*: .*nb\.html exists and fatezero export-html did not write it/],
      [{ "fatezero-widgets.js": "my script" }, /--out .*: .*fatezero-widgets\.js exists and fatezero export-html did not write it/],
      [
        { "jupyter-widgets/require.js": "my require" },
        /--out .*: the script folder .*jupyter-widgets: holds require\.js; it has no record/,
      ],
    ] as const) {
      const out = tempDir("dl-export-out");
      plant(out, files);
      refused(fatezero(["export-html", path.join(dir, "nb.ipynb"), "--out", out]), message, Object.keys(files)[0]);
      assert.deepEqual(snapshot(out), files, "the folder is as it was");
    }
    for (let i = 0; i < 2; i++) {
      const r = fatezero(["export-html", path.join(dir, "nb.ipynb")]);
      assert.equal(r.code, 0, `written, then its own earlier export replaced: ${r.err}`);
    }
    fs.appendFileSync(path.join(dir, "nb.html"), "<p>my notes</p>");
    refused(
      fatezero(["export-html", path.join(dir, "nb.ipynb")]),
      /nb\.html was changed after fatezero export-html wrote it/,
      "a page edited since",
    );
    assert.match(fs.readFileSync(path.join(dir, "nb.html"), "utf8"), /my notes<\/p>$/);
  },
);
