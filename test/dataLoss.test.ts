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
import { CACHEDIR_SIGNATURE, CACHEDIR_TAG } from "../src/util/cacheDir";
import { trainingDataBytes } from "../src/world/trainingData";
import { tempDir } from "./sharedData";

const BIN = path.resolve("bin/fatezero.js");

/** Run the CLI with `env` over a scratch HOME and no FATEZERO_CACHE of the caller's, in `cwd`. */
function fatezero(args: string[], options: { env?: Record<string, string>; cwd?: string; home?: string } = {}) {
  const env: Record<string, string | undefined> = { ...process.env, HOME: options.home ?? tempDir("dl-home"), ...options.env };
  if (options.env?.FATEZERO_CACHE === undefined) delete env.FATEZERO_CACHE;
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env, cwd: options.cwd, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Exit 2, the message, and no stack trace. */
function refused(r: ReturnType<typeof fatezero>, message: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.err}`);
  assert.match(r.err, message, what);
  assert.doesNotMatch(r.err, /\n\s+at /, `${what}: a stack trace reached the user`);
}

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
  assert.ok(info.bavail * info.bsize < trainingDataBytes(1_000_000), "the test needs a file system with less than ~405 GB free");
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
  assert.equal(trainingDataBytes(1), written, "the estimate is what one clip takes");
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
