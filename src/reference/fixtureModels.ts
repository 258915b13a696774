// The fixture's model components, opened on first use and kept for the rest of the run.
import * as path from "node:path";
import { textEncoderConfig, unetConfig, vaeConfig } from "../networks/configs";
import type { ModelFolder } from "../networks/modelFolder";
import { openModel } from "../fatezero/loadModel";
import { TextEncoder } from "../networks/textEncoder";
import { Unet } from "../networks/unetSession";
import { Vae } from "../networks/vae";
import type { FrameSelector } from "../networks/frameLayout";
import { DdimScheduler } from "../scheduler/ddim";
import { ClipTokenizer } from "../tokenizer/clipTokenizer";
import type { WeightSet } from "../checkpoint/weightSet";
import { injectedHash } from "../fatezero/injectedHash";

/** Lazily opened components of one model folder. */
export class FixtureModels {
  private folder?: ModelFolder;
  private textEncoder?: Promise<TextEncoder>;
  private vae?: Promise<Vae>;
  private tokenizer?: ClipTokenizer;
  private readonly unets = new Map<string, Promise<Unet>>();

  /** `weightsFile`: a single-file checkpoint to take the text encoder, VAE and "unet" weights from. */
  constructor(
    readonly modelDir: string,
    readonly cacheDir?: string,
    readonly weightsFile?: string,
  ) {}

  private model(): ModelFolder {
    this.folder ??= this.open();
    return this.folder;
  }

  /** The folder with the UNet of `subfolder`, and the single file's weights when there is one. */
  private open(subfolder?: string): ModelFolder {
    return openModel(this.modelDir, { unetSubfolder: subfolder, weightsFile: this.weightsFile });
  }

  /** The CLIP tokenizer. */
  clipTokenizer(): ClipTokenizer {
    this.tokenizer ??= ClipTokenizer.fromFiles(this.model().vocab);
    return this.tokenizer;
  }

  /** A fresh DDIM scheduler from the folder's config. */
  scheduler(): DdimScheduler {
    const m = this.model();
    return DdimScheduler.fromConfig(m.schedulerConfig, m.schedulerConfigPath);
  }

  /** The text encoder session. */
  text(): Promise<TextEncoder> {
    const te = this.model().textEncoder;
    this.textEncoder ??= TextEncoder.load(textEncoderConfig(te.config), te.weights, { cacheDir: this.cacheDir });
    return this.textEncoder;
  }

  /** Embeddings [B, T, D] of prompts. */
  async encodePrompts(prompts: string[]): Promise<Float32Array> {
    const tok = this.clipTokenizer();
    return (await this.text()).encode(prompts.map((p) => tok.tokenize(p).ids));
  }

  /** The VAE sessions. */
  autoencoder(): Promise<Vae> {
    const v = this.model().vae;
    this.vae ??= Vae.load(vaeConfig(v.config), v.weights, { cacheDir: this.cacheDir });
    return this.vae;
  }

  /** The UNet weights in `subfolder` (default "unet"). */
  unetWeights(subfolder?: string): WeightSet {
    return (subfolder ? this.open(subfolder) : this.model()).unet.weights;
  }

  /** A UNet session: 2D when `video` is absent; `subfolder` picks e.g. unet_tuned. */
  unet(
    options: {
      subfolder?: string;
      video?: { selectors: FrameSelector[]; leastScChannel: number };
      injected?: Map<string, Float32Array>;
    } = {},
  ): Promise<Unet> {
    const key = JSON.stringify([options.subfolder, options.video, options.injected ? injectedHash(options.injected) : null]);
    let u = this.unets.get(key);
    if (!u) {
      const folder = options.subfolder ? this.open(options.subfolder) : this.model();
      u = Unet.load(unetConfig(folder.unet.config, path.join(folder.unet.dir, "config.json")), folder.unet.weights, {
        cacheDir: this.cacheDir,
        video: options.video,
        injected: options.injected,
      });
      this.unets.set(key, u);
    }
    return u;
  }
}
