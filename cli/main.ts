// The `fatezero` command line.
import { Command, Option } from "commander";
import * as path from "node:path";
import { installKernelSpec } from "../kernel/install";
import { ConfigError } from "../src/config/yamlDocument";
import { tinyModelSpec } from "../src/networks/modelSpecs";
import { writeRandomModel } from "../src/networks/randomModel";
import { runReference } from "../src/reference/runReference";
import { checkFolderPath } from "../src/util/folderOutput";
import { InputError } from "../src/util/inputError";
import { cacheListCommand, cachePruneCommand } from "./cacheCommand";
import { editCommand, type EditFlags } from "./editCommand";
import { exportHtml } from "./exportHtml";
import { widgetsInstallCommand } from "./widgetsCommand";
import { FIGURE_NOTEBOOKS, figuresCommand, type FiguresFlags } from "./figuresCommand";
import {
  trainingDataCommand,
  worldBenchCommand,
  worldCommand,
  type TrainingDataFlags,
  type WorldBenchFlags,
  type WorldFlags,
} from "./worldCommand";

/** Parse arguments and run one subcommand; sets the exit code (2 for bad input, 1 for failures). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("fatezero").description("Zero-shot text-driven video editing (FateZero) on ONNX Runtime").exitOverride();
  program
    .command("edit")
    .description("edit a video: a FateZero YAML config, or --target with the defaults (the trained world model and world clip 13)")
    .option("--config <file>", "FateZero edit config (YAML); flags override its values")
    .option("--video <path>", "video file (mp4/webm/gif/…) or folder of frames")
    .option("--source <prompt>", "prompt describing the input video (inversion prompt)")
    .option("--target <prompt>", "edit prompt (runs [reconstruction, edit])")
    .option("--blend-words <words...>", "source-prompt words whose attention forms the blend mask")
    .option("--threshold <t>", "blend-mask threshold")
    .option("--steps <n>", "DDIM steps")
    .option("--guidance <scale>", "classifier-free guidance scale (default: the config's; the world model's 1.5)")
    .option(
      "--negative-prompt <empty|source>",
      "guidance's unconditional text: empty (FateZero, SD) or source (negative-prompt inversion); default: the config's, else the world model's source",
    )
    .option(
      "--inversion-iterations <n>",
      "fixed-point iterations per inversion step, one UNet call each (default 0: FateZero's plain DDIM)",
    )
    .option(
      "--precision <fp32|int8>",
      "the UNet's arithmetic for inversion and edits: fp32 (default, FateZero's) or int8 (quantized linear layers and convolutions; faster, not exact)",
    )
    .option("--frames <n>", "number of frames; -1: every frame of the video")
    .option("--frame-chunk <n>", "frames per UNet window of a clip longer than 8 frames (default: by size, 8 at 256², 4 at 512²)")
    .option(
      "--size <N|HxW>",
      "frame size in pixels (a multiple of the model's frame size unit; default: the config's image_size, else the size the model was trained at)",
    )
    .option(
      "--model <dir|file|world|tiny>",
      'Stable Diffusion 1.x diffusers folder or single .safetensors file; "world" (the default) or "tiny" (random weights)',
    )
    .option("--model-config <dir>", "for a single-file model: a diffusers folder with its configs and tokenizer (weights not needed)")
    .option("--ema", "for a single-file model: use its EMA UNet weights (model_ema.*)")
    .option("--out <path>", "output .mp4/.gif (plus a .grid beside it) or folder")
    .option("--cache-dir <dir>", "graph, model and inversion cache (default $FATEZERO_CACHE or ~/.cache/fatezero)")
    .option("--dry-run", "validate and print the resolved plan without running")
    .option("--ignore-memory-limit", "run even when the estimated peak memory exceeds this machine's")
    .option(
      "--device <cpu|webgpu|cuda>",
      "where the graphs run (default $FATEZERO_DEVICE, else cpu): webgpu needs a Vulkan GPU, cuda the CUDA provider",
    )
    .option("--json", "with --dry-run: print the plan as JSON")
    .action(async (flags: EditFlags) => {
      process.exitCode = await editCommand(flags);
    });
  program
    .command("make-tiny-model <dir>")
    .description("write the embedded tiny random-weight SD-style model (diffusers layout) to a folder")
    .option("--overwrite", "replace a non-empty folder")
    .action((dir: string, opts: { overwrite?: boolean }) => {
      writeRandomModel(dir, tinyModelSpec(), { overwrite: opts.overwrite });
      console.log(path.resolve(dir));
    });
  const cache = program.command("cache").description("the cache folder: built graphs, weight copies, inversions, generated models");
  cache
    .command("list")
    .description("what the cache holds, with sizes")
    .option("--cache-dir <dir>", "the cache (default $FATEZERO_CACHE or ~/.cache/fatezero)")
    .action((flags: { cacheDir?: string }) => cacheListCommand(flags));
  cache
    .command("prune")
    .description("remove weight copies whose checkpoint is gone or changed, their graphs, and leftovers of killed runs")
    .option("--all", "remove everything in the cache")
    .option("--cache-dir <dir>", "the cache (default $FATEZERO_CACHE or ~/.cache/fatezero)")
    .action((flags: { cacheDir?: string; all?: boolean }) => cachePruneCommand(flags));
  program
    .command("world")
    .description("draw a world clip (the world model's world) with its captions and ground-truth masks")
    .requiredOption("--seed <n>", "layout and motion (a non-negative integer)")
    .requiredOption("--out <dir>", "output folder: frames/, clip.mp4, masks/<thing>/, world.json")
    .option("--kind <kind>", "vehicle: car, truck or bus (default car)")
    .option("--colour <colour>", "vehicle colour: red, blue, green, yellow, white or black (default red)")
    .option("--setting <setting>", "countryside, snow, desert or night (default countryside)")
    .option("--style <style>", "plain, watercolor or sketch (default plain)")
    .option("--frames <n>", "frames (default 8)")
    .option("--size <n>", "frame size in pixels (default 128)")
    .action(async (flags: WorldFlags) => {
      const written = await worldCommand(flags);
      console.log(`${written.length} files in ${path.resolve(flags.out)}`);
    });
  program
    .command("world-training-data")
    .description("write the world model's training set and untrained model skeleton (used by npm run train:world)")
    .requiredOption("--out <dir>", "folder for data/ and skeleton/")
    .option("--clips <n>", "training clips of 8 frames (default 2000)")
    .option("--miniature", "a miniature model skeleton (the trainer's smoke runs)")
    .option("--gpu", "the skeleton of the gpu training plan (a wider VAE; train/gpu.py)")
    .action((flags: TrainingDataFlags) => trainingDataCommand(flags));
  program
    .command("world-bench")
    .description("the ground-truth edit benchmark: edit held-out world clips (colour, setting, style, vehicle) and score them")
    .option("--seed <n>", "first clip's seed (default 1000; must stay below the training seeds)")
    .option("--clips <n>", "clips (default 8)")
    .option("--steps <n>", "DDIM steps (default: the world model's 20)")
    .option("--inversion-iterations <n>", "fixed-point iterations per inversion step (default 0: FateZero's plain DDIM)")
    .option(
      "--precision <fp32|int8>",
      "the UNet's arithmetic (default fp32); int8 rows also score each edit against the fp32 edit (vsFp32Psnr)",
    )
    .option("--guidance <scale>", "classifier-free guidance scale (default: the world model's)")
    .option(
      "--negative-prompt <empty|source>",
      "guidance's unconditional text: empty, or source (negative-prompt inversion; the world model's default)",
    )
    .option("--model <dir|world>", "model (default world)")
    .option("--device <cpu|webgpu|cuda>", "where the graphs run (default $FATEZERO_DEVICE, else cpu)")
    .option("--json", "one JSON line per row")
    .action(async (flags: WorldBenchFlags) => worldBenchCommand(flags));
  program
    .command("reference <fixture-dir>")
    .description("recompute every tensor of a reference fixture and compare (one JSON line each)")
    .option("--only <regex>", "only tensors whose name matches")
    .option("--weights <file>", "take the text encoder, VAE and UNet weights from this single-file checkpoint (.safetensors)")
    .action(async (dir: string, opts: { only?: string; weights?: string }) => {
      const counts = await runReference(dir, (line) => console.log(JSON.stringify(line)), {
        only: opts.only ? new RegExp(opts.only) : undefined,
        weightsFile: opts.weights,
      });
      console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
      if (counts.failed > 0) process.exitCode = 1;
    });
  program
    .command("figures")
    .description("regenerate every notebook figure: run the figure notebooks headlessly with the fatezero kernel")
    .option("--out <dir>", "figures folder (default: notebooks/figures)")
    .option("--notebooks <files...>", `notebooks to run (default: ${FIGURE_NOTEBOOKS.map((n) => `notebooks/${n}`).join(", ")})`)
    .option("--timeout <s>", "seconds one cell may run (default 1800)")
    .action(async (flags: FiguresFlags) => {
      process.exitCode = await figuresCommand(flags);
    });
  program
    .command("kernel")
    .description("the FateZero Jupyter kernel")
    .command("install")
    .description("install the `fatezero` kernelspec (default: the user's Jupyter data dir)")
    .addOption(new Option("--user", "into the user's Jupyter data dir").conflicts("prefix"))
    .option("--prefix <dir>", "into <dir>/share/jupyter/kernels (a venv, or a project-local JUPYTER_PATH)")
    .action((opts: { user?: boolean; prefix?: string }) => {
      if (opts.prefix !== undefined) checkFolderPath(opts.prefix, "--prefix");
      console.log(installKernelSpec(opts));
    });
  program
    .command("widgets")
    .description("the FateZero Jupyter widgets frontend")
    .command("install")
    .description("install the prebuilt extension for JupyterLab 4.6 and Notebook 7 (default: the user's Jupyter data dir)")
    .addOption(new Option("--user", "into the user's Jupyter data and config dirs").conflicts("prefix"))
    .option("--prefix <dir>", "into <dir>/share/jupyter/labextensions (a venv: its sys.prefix)")
    .action((opts: { user?: boolean; prefix?: string }) => {
      if (opts.prefix !== undefined) checkFolderPath(opts.prefix, "--prefix");
      widgetsInstallCommand(opts);
    });
  program
    .command("export-html <notebook>")
    .description("convert a notebook to HTML whose saved widgets render offline (needs jupyter nbconvert)")
    .option("--out <dir>", "output folder (default: the notebook's folder)")
    .action((notebook: string, opts: { out?: string }) => {
      console.log(exportHtml(notebook, opts.out));
    });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code?.startsWith("commander.")) {
      process.exitCode = err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : 2;
      return;
    }
    console.error(`fatezero: ${err.message}`);
    process.exitCode = e instanceof InputError || e instanceof ConfigError ? 2 : 1;
  }
}
