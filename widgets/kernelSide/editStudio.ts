// The interactive editor of one cached inversion: a FrameScrubber (source / reconstruction / edit), a
// CrossAttentionViewer, a MaskTuner and an EditPanel, wired so that Run re-runs only the editing loop
// against the inversion with the tuner's and the panel's settings, streams progress and shows the result.
import type { InversionRecord } from "../../src/fatezero/inversionRecord";
import { decodeLatents } from "../../src/fatezero/decodeLatents";
import { DEFAULT_P2P, type EditSpec } from "../../src/fatezero/editOptions";
import { editVideo } from "../../src/fatezero/editVideo";
import type { FateZeroModel } from "../../src/fatezero/loadModel";
import type { VideoClip } from "../../src/video/readVideo";
import type { CommManager } from "../../kernel/commTypes";
import type { EqualizerEntry } from "../shared/widgetStates";
import { StageTimer } from "../charts/stageTimer";
import type { ClipImageOptions } from "./clipImages";
import { CrossAttentionViewer } from "./crossAttentionViewer";
import { EditPanel, type RunProgress } from "./editPanel";
import { FrameScrubber } from "./frameScrubber";
import { MaskTuner } from "./maskTuner";

/** What an editor starts with; unset controls take FateZero's defaults. */
export interface EditStudioOptions {
  model: FateZeroModel;
  /** The inverted clip, at the inversion's size. */
  clip: VideoClip;
  inversion: InversionRecord;
  /** The edit prompt. */
  prompt: string;
  /** The controller's source prompt (FateZero `editing_prompts[0]`; default: the inversion prompt). */
  sourcePrompt?: string;
  /** Blend words of the source prompt, or FateZero's pair [source words, target words]. */
  blendWords?: string[] | [string[], string[]];
  threshold?: number;
  selfReplaceSteps?: [number, number];
  crossReplaceSteps?: [number, number];
  blendLatents?: boolean;
  latentBlendSteps?: [number, number];
  controller?: "replace" | "refine";
  equalizer?: EqualizerEntry[];
  guidanceScale?: number;
  /** How frames are encoded for the views. */
  image?: ClipImageOptions;
  comms?: CommManager;
}

/** Scrubber, attention viewer, mask tuner and edit panel over one cached inversion. */
export class EditStudio {
  /** Seconds per stage ("edit", "decode", "show") summed over every run so far (what `stageTimeChart` draws). */
  readonly timer = new StageTimer();
  /** The latest frames of each scrubber row a run produced ("edit", "reconstruction"). */
  readonly results = new Map<string, VideoClip>();

  private constructor(
    private readonly options: EditStudioOptions,
    readonly scrubber: FrameScrubber,
    readonly viewer: CrossAttentionViewer,
    readonly tuner: MaskTuner,
    readonly panel: EditPanel,
    private readonly targetWords: string[] | undefined,
  ) {}

  /** Open the four widgets (nothing is displayed until `display()`). */
  static async open(options: EditStudioOptions): Promise<EditStudio> {
    const { model, clip, inversion } = options;
    const sourcePrompt = options.sourcePrompt ?? inversion.key.prompt;
    const [sourceWords, targetWords] = splitBlendWords(options.blendWords);
    const common = { comms: options.comms, image: options.image };
    const scrubber = await FrameScrubber.create([{ label: "source", clip }], { ...common, title: inversion.key.prompt });
    const viewer = await CrossAttentionViewer.create(inversion, model.tokenizer, clip, common);
    const tuner = await MaskTuner.create(inversion, model, clip, { ...options, sourcePrompt, blendWords: sourceWords });
    // The panel starts at the model's guidance (a world model's differs from FateZero's 7.5).
    const panel = EditPanel.create({ ...options, sourcePrompt, guidanceScale: options.guidanceScale ?? model.editDefaults.guidanceScale });
    const studio = new EditStudio(options, scrubber, viewer, tuner, panel, targetWords);
    panel.setTask((signal, progress) => studio.edit(studio.spec(), "edit", signal, progress));
    return studio;
  }

  /** Show the four widgets in the running cell's output. */
  display(): void {
    for (const w of [this.scrubber, this.viewer, this.tuner, this.panel]) w.display();
  }

  /** The edit the current settings describe, towards `prompt` (default: the panel's edit prompt). */
  spec(prompt?: string): EditSpec {
    const p = this.panel.state();
    const target = prompt ?? p.prompt;
    const sourceWords = this.tuner.blendWords();
    // Target blend words given with the studio belong to the panel's prompt; any other prompt gets its own.
    const targetWords =
      prompt === undefined && this.targetWords ? this.targetWords : targetBlendWords(p.source_prompt, target, sourceWords);
    // The equalizer re-weights words of the panel's prompt; another prompt keeps only those it contains.
    const words = new Set(target.split(" "));
    const equalizer = p.equalizer.filter((e) => e.word.trim() !== "" && (prompt === undefined || words.has(e.word.trim())));
    return {
      prompt: target,
      sourcePrompt: p.source_prompt,
      p2p: {
        ...DEFAULT_P2P,
        ...this.tuner.p2p(),
        isReplaceController: p.controller === "replace",
        ...(sourceWords.length > 0 ? { blendWords: [sourceWords, targetWords] } : {}),
        ...(equalizer.length > 0
          ? { eqParams: { words: equalizer.map((e) => e.word.trim()), values: equalizer.map((e) => e.value) } }
          : {}),
      },
    };
  }

  /** Run the editing loop with the current settings (as the Run button does); shows and returns the edit. */
  run(): Promise<VideoClip> {
    return this.panel.run().then(() => this.results.get("edit")!);
  }

  /** Run the edit with the source prompt as target (FateZero's first "editing" prompt) and show it as "reconstruction". */
  reconstruct(): Promise<VideoClip> {
    const spec = this.spec(this.panel.get("source_prompt"));
    return this.panel
      .run((signal, progress) => this.edit(spec, "reconstruction", signal, progress))
      .then(() => this.results.get("reconstruction")!);
  }

  /** Cancel the run in progress. */
  cancel(): void {
    this.panel.cancel();
  }

  /** Close all four widgets. */
  close(): void {
    for (const w of [this.scrubber, this.viewer, this.tuner, this.panel]) w.close();
  }

  /** Edit with `spec`, decode, and show the frames in the scrubber row `label`. */
  async edit(spec: EditSpec, label: string, signal: AbortSignal, progress: RunProgress): Promise<string> {
    const { model, inversion, clip } = this.options;
    const { frameCount: F, height: H, width: W } = inversion.key;
    const start = performance.now();
    const result = await this.timer.time("edit", () =>
      editVideo(model, inversion, spec, { signal, onProgress: progress, guidanceScale: this.panel.get("guidance_scale") }),
    );
    const frames = await this.timer.time("decode", () => decodeLatents(model, result.latents)); // [F, H, W, 3]
    const edited: VideoClip = { frames, count: F, height: H, width: W, source: label, fps: clip.fps };
    // Rows read source, reconstruction, edit, whichever ran first.
    await this.timer.time("show", () => this.scrubber.setClip(label, edited, label === "reconstruction" ? "edit" : undefined));
    this.results.set(label, edited);
    return `${label} done in ${((performance.now() - start) / 1000).toFixed(1)} s`;
  }
}

function splitBlendWords(words: EditStudioOptions["blendWords"]): [string[], string[] | undefined] {
  if (!words) return [[], undefined];
  if (words.length === 2 && Array.isArray(words[0]) && Array.isArray(words[1])) return [words[0], words[1]];
  return [words as string[], undefined];
}

/**
 * Target-prompt blend words when only the source's were given: the words the edit introduces (in the target
 * but not the source prompt), else the source blend words the target keeps.
 */
export function targetBlendWords(sourcePrompt: string, prompt: string, sourceWords: string[]): string[] {
  const source = new Set(sourcePrompt.split(" "));
  const introduced = prompt.split(" ").filter((w) => w !== "" && !source.has(w));
  if (introduced.length > 0) return introduced;
  const target = new Set(prompt.split(" "));
  return sourceWords.filter((w) => target.has(w));
}
