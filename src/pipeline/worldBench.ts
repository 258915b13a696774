// The ground-truth edit benchmark: held-out world clips are inverted and edited four ways (vehicle colour,
// setting, style, vehicle kind), and each edit is scored against the same scene re-rendered with the changed
// attribute. Ablations of the colour edit turn off inversion attention, the blend mask and spatial-temporal
// attention, so the paper's claims become numbers. The edit settings are those of FateZero's own configs.
import { attentionSites, inversionBuild, largestControlledSelfSize } from "../fatezero/attentionSites";
import { decodeLatents } from "../fatezero/decodeLatents";
import {
  DEFAULT_P2P,
  DEFAULT_UNET_PRECISION,
  type AttentionSourceMode,
  type EditLoopOptions,
  type EditSpec,
  type P2pOptions,
  type UnetPrecision,
} from "../fatezero/editOptions";
import { editLoopOptions, editVideo } from "../fatezero/editVideo";
import { selfMaskInput } from "../fatezero/fusionGraph";
import type { InversionRecord } from "../fatezero/inversionRecord";
import { FATEZERO_INVERSION_ITERATIONS, invertVideo } from "../fatezero/invertVideo";
import type { FateZeroModel } from "../fatezero/loadModel";
import { InputError } from "../util/inputError";
import { worldCaption } from "../world/captions";
import { dilateMask, dominantColour, downsampleMask, frameChange, invertMask, maskIou, psnr } from "../world/editMetrics";
import { seededRandom } from "../world/layout";
import { TRAINING_SEEDS } from "../world/trainingData";
import { COLOUR_NAMES, VEHICLE_KINDS, type WorldAttributes } from "../world/vocabulary";
import { renderWorldClip, WORLD_FRAMES, WORLD_SIZE, type WorldClip } from "../world/worldClip";

/** The edits the benchmark makes. */
export type BenchEdit = "attribute" | "setting" | "style" | "vehicle";

/** One JSON line of the benchmark: an edit (or an ablation of the attribute edit), averaged over clips. */
export interface BenchRow {
  edit: BenchEdit;
  attention: AttentionSourceMode;
  blendMask: boolean;
  spatialTemporal: boolean;
  /** Fixed-point iterations per inversion step (0: FateZero's plain DDIM inversion). */
  inversionIterations: number;
  /** The UNet's precision, for the inversions and the edits. */
  unetPrecision: UnetPrecision;
  guidanceScale: number;
  negativePrompt: EditLoopOptions["negativePrompt"];
  clips: number;
  /** Reconstruction (the edit towards the source prompt) vs the source, dB. */
  reconPsnr: number;
  /** The edit vs the ground-truth target, and the unedited source vs the same target, dB. */
  targetPsnr: number;
  sourcePsnr: number;
  /** Blend mask vs the ground-truth vehicle mask at the mask's resolution, over the self-replace window. */
  maskIou?: number;
  /** The edit vs the source outside the dilated vehicle masks of source and target, dB. */
  backgroundPsnr?: number;
  /** Share of clips whose vehicle pixels are closest to the colour the vehicle should have. */
  colorAccuracy?: number;
  /** Frame-to-frame change of the edit over that of the ground-truth target. */
  flickerRatio: number;
  /** Below float32: the edit vs the float32 edit of the same clip (same inversion settings and controls), dB. */
  vsFp32Psnr?: number;
  seconds: number;
}

/** What to run. */
export interface WorldBenchOptions {
  seed: number;
  clips: number;
  steps: number;
  /** Fixed-point iterations per inversion step (see InversionRequest); default plain DDIM. */
  inversionIterations?: number;
  /** The UNet's precision; default DEFAULT_UNET_PRECISION. Below float32 every edit is also made in float32 to score it against. */
  unetPrecision?: UnetPrecision;
  /** The editing loop's guidance, where it differs from the model's defaults: scale and negative prompt. */
  guidance?: Partial<Pick<EditLoopOptions, "guidanceScale" | "negativePrompt">>;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

/** Pixels the vehicle masks are grown by before the background is compared. */
const BACKGROUND_MARGIN = 4;
/** FateZero's reconstruction controls (edit 0 of its configs): refine, cross 0.8, self 0.9, no blending. */
const RECONSTRUCTION: Partial<P2pOptions> = { isReplaceController: false, crossReplaceSteps: 0.8, selfReplaceSteps: 0.9 };
/** FateZero's local shape edit (jeep_posche.yaml, edit 1): replace, cross and self 0.5, blend words, threshold 0.3. */
const LOCAL: Partial<P2pOptions> = {
  isReplaceController: true,
  crossReplaceSteps: 0.5,
  selfReplaceSteps: 0.5,
  blendSelfAttention: true,
  blendTh: [0.3, 0.3],
};
/** FateZero's style edit (jeep_watercolor.yaml, edit 1): refine, cross and self 0.8. */
const GLOBAL: Partial<P2pOptions> = { isReplaceController: false, crossReplaceSteps: 0.8, selfReplaceSteps: 0.8 };

/** The source attributes of benchmark clip `seed`: a vehicle of any kind and colour, plain countryside. */
export function benchAttributes(seed: number): WorldAttributes {
  const random = seededRandom(seed * 13 + 5);
  return {
    kind: VEHICLE_KINDS[Math.floor(random() * VEHICLE_KINDS.length)],
    colour: COLOUR_NAMES[Math.floor(random() * COLOUR_NAMES.length)],
    setting: "countryside",
    style: "plain",
  };
}

/** Each edit of a clip: the target attributes and FateZero's controls for it. */
function benchEdits(seed: number, a: WorldAttributes): { edit: BenchEdit; target: WorldAttributes; p2p: Partial<P2pOptions> }[] {
  const random = seededRandom(seed * 17 + 11);
  const colours = COLOUR_NAMES.filter((c) => c !== a.colour);
  const colour = colours[Math.floor(random() * colours.length)];
  const kind = VEHICLE_KINDS[(VEHICLE_KINDS.indexOf(a.kind) + 1) % VEHICLE_KINDS.length];
  return [
    {
      edit: "attribute",
      target: { ...a, colour },
      p2p: {
        ...LOCAL,
        blendWords: [
          [a.colour, a.kind],
          [colour, a.kind],
        ],
      },
    },
    { edit: "setting", target: { ...a, setting: "snow" }, p2p: GLOBAL },
    { edit: "style", target: { ...a, style: "watercolor" }, p2p: { ...GLOBAL, eqParams: { words: ["watercolor"], values: [10] } } },
    { edit: "vehicle", target: { ...a, kind }, p2p: { ...LOCAL, blendWords: [[a.kind], [kind]] } },
  ];
}

/** The attribute edit's ablations: FateZero, then one part of it removed at a time. */
const ABLATIONS: { attention: AttentionSourceMode; blendMask: boolean; spatialTemporal: boolean }[] = [
  { attention: "reconstruction", blendMask: true, spatialTemporal: true },
  { attention: "none", blendMask: true, spatialTemporal: true },
  { attention: "inversion", blendMask: false, spatialTemporal: true },
  { attention: "inversion", blendMask: true, spatialTemporal: false },
];

type Scores = Omit<
  BenchRow,
  | "edit"
  | "attention"
  | "blendMask"
  | "spatialTemporal"
  | "inversionIterations"
  | "unetPrecision"
  | "guidanceScale"
  | "negativePrompt"
  | "clips"
  | "reconPsnr"
>;

/** Run the benchmark; one row per edit, then the attribute edit's ablations. */
export async function runWorldBench(model: FateZeroModel, o: WorldBenchOptions): Promise<BenchRow[]> {
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed + o.clips > TRAINING_SEEDS) {
    throw new InputError(
      `--seed: benchmark clips must come from seeds 0…${TRAINING_SEEDS - 1}; ` +
        `seeds from ${TRAINING_SEEDS} on are the world model's training clips`,
    );
  }
  const inversionIterations = o.inversionIterations ?? FATEZERO_INVERSION_ITERATIONS;
  const unetPrecision = o.unetPrecision ?? DEFAULT_UNET_PRECISION;
  const { guidanceScale, negativePrompt } = editLoopOptions(model, o.guidance);
  const guidance = { guidanceScale, negativePrompt };
  const rows = new Map<string, { row: Omit<BenchRow, keyof Scores | "reconPsnr" | "clips">; scores: Scores[]; recon: number[] }>();
  const add = (edit: BenchEdit, variant: (typeof ABLATIONS)[number], recon: number, s: Scores) => {
    const key = JSON.stringify([edit, variant]);
    if (!rows.has(key))
      rows.set(key, { row: { edit, ...variant, inversionIterations, unetPrecision, ...guidance }, scores: [], recon: [] });
    rows.get(key)!.scores.push(s);
    rows.get(key)!.recon.push(recon);
  };
  for (let c = 0; c < o.clips; c++) {
    const seed = o.seed + c;
    const source = benchAttributes(seed);
    const world = renderWorldClip(seed, source);
    const caption = worldCaption(source);
    const invert = (spatialTemporal: boolean, precision: UnetPrecision) =>
      invertVideo(
        model,
        {
          frames: world.clip.frames,
          frameCount: WORLD_FRAMES,
          height: WORLD_SIZE,
          width: WORLD_SIZE,
          prompt: caption,
          steps: o.steps,
          inversionIterations,
          unetPrecision: precision,
          ...(spatialTemporal ? {} : { leastScChannel: Number.MAX_SAFE_INTEGER }),
        },
        { signal: o.signal },
      );
    const inversions = { true: await invert(true, unetPrecision), false: await invert(false, unetPrecision) };
    // The float32 counterparts an edit below float32 is scored against (its inversion is float32 too).
    const reference =
      unetPrecision === DEFAULT_UNET_PRECISION
        ? undefined
        : { true: await invert(true, DEFAULT_UNET_PRECISION), false: await invert(false, DEFAULT_UNET_PRECISION) };
    const run = async (inv: InversionRecord, spec: EditSpec, attention: AttentionSourceMode) => {
      const started = performance.now();
      const masks: Map<string, Float32Array>[] = [];
      const result = await editVideo(model, inv, spec, { ...guidance, attention, signal: o.signal, onStep: (_, __, m) => masks.push(m) });
      return {
        frames: await decodeLatents(model, result.latents),
        masks,
        selfReplace: result.controller.selfReplace,
        seconds: (performance.now() - started) / 1000,
      };
    };
    const reconstruction = await run(
      inversions.true,
      { prompt: caption, sourcePrompt: caption, p2p: { ...DEFAULT_P2P, ...RECONSTRUCTION } },
      "inversion",
    );
    const recon = psnr(reconstruction.frames, world.clip.frames);
    for (const e of benchEdits(seed, source)) {
      const target = renderWorldClip(seed, e.target);
      const fateZero = { attention: "inversion" as const, blendMask: e.p2p.blendWords !== undefined, spatialTemporal: true };
      const variants = [fateZero, ...(e.edit === "attribute" ? ABLATIONS : [])];
      for (const v of variants) {
        const p2p: P2pOptions = { ...DEFAULT_P2P, ...e.p2p, ...(v.blendMask ? {} : { blendWords: undefined }) };
        const spec = { prompt: worldCaption(e.target), sourcePrompt: caption, p2p };
        const edited = await run(inversions[`${v.spatialTemporal}`], spec, v.attention);
        const scores = await score(
          model,
          world,
          target,
          e.edit,
          edited,
          p2p.blendWords !== undefined && v.attention !== "none",
          inversions.true,
        );
        if (reference) scores.vsFp32Psnr = psnr(edited.frames, (await run(reference[`${v.spatialTemporal}`], spec, v.attention)).frames);
        add(e.edit, v, recon, scores);
        o.onProgress?.(`clip ${c + 1}/${o.clips}: ${e.edit} ${JSON.stringify(v)}`);
      }
    }
  }
  return [...rows.values()].map(({ row, scores, recon }) => ({
    ...row,
    clips: scores.length,
    reconPsnr: mean(recon),
    ...meanScores(scores),
  }));
}

/** Scores of one edit of one clip against its ground truth. */
async function score(
  model: FateZeroModel,
  source: WorldClip,
  target: WorldClip,
  edit: BenchEdit,
  edited: { frames: Uint8Array; masks: Map<string, Float32Array>[]; selfReplace: [number, number]; seconds: number },
  blended: boolean,
  inversion: InversionRecord,
): Promise<Scores> {
  const { count: F, height: H, width: W } = source.clip;
  const s: Scores = {
    targetPsnr: psnr(edited.frames, target.clip.frames),
    sourcePsnr: psnr(source.clip.frames, target.clip.frames),
    flickerRatio: frameChange(edited.frames, F) / frameChange(target.clip.frames, F),
    seconds: edited.seconds,
  };
  if (edit === "attribute" || edit === "vehicle") {
    const vehicles = source.masks.vehicle.map((v, i) => v | target.masks.vehicle[i]);
    s.backgroundPsnr = psnr(edited.frames, source.clip.frames, invertMask(dilateMask(vehicles, F, H, W, BACKGROUND_MARGIN)));
    s.colorAccuracy = dominantColour(edited.frames, target.masks.vehicle) === target.attributes.colour ? 1 : 0;
  }
  if (blended) s.maskIou = blendMaskIou(model, inversion, source, edited.masks, edited.selfReplace);
  return s;
}

/** IoU of the edit's blend mask (at the largest controlled size) with the source vehicle, averaged over the window. */
function blendMaskIou(
  model: FateZeroModel,
  inversion: InversionRecord,
  source: WorldClip,
  masks: Map<string, Float32Array>[],
  window: [number, number],
): number {
  const F = inversion.key.frameCount;
  const [mh, mw] = largestControlledSelfSize(attentionSites(model.unetConfig, inversionBuild(inversion.key, model.dims.vaeFactor)))!;
  const truth = downsampleMask(source.masks.vehicle, F, source.clip.height, source.clip.width, source.clip.height / mh);
  const ious = masks.slice(window[0], window[1]).map((m) =>
    maskIou(
      Uint8Array.from(m.get(selfMaskInput(mh, mw))!, (v) => (v > 0.5 ? 1 : 0)),
      truth,
    ),
  );
  return mean(ious);
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function meanScores(scores: Scores[]): Scores {
  const keys = [...new Set(scores.flatMap((s) => Object.keys(s)))] as (keyof Scores)[];
  return Object.fromEntries(keys.map((k) => [k, mean(scores.map((s) => s[k]!).filter((v) => v !== undefined))])) as unknown as Scores;
}
