// The fixture's model components, opened on first use and kept for the rest of the run.
import * as path from "node:path";
import { textEncoderConfig, unetConfig, vaeConfig } from "../models/configs";
import { openModelFolder, type ModelFolder } from "../models/modelFolder";
import { TextEncoder } from "../models/textEncoder";
import { Unet } from "../models/unetSession";
import { Vae } from "../models/vae";
import type { FrameSelector } from "../models/frameLayout";
import { DdimScheduler } from "../scheduler/ddim";
import { ClipTokenizer } from "../tokenizer/clipTokenizer";
import type { WeightSet } from "../models/weightSet";
import { injectedHash } from "../inversion/injectedHash";

/** Lazily opened components of one model folder. */
export class FixtureModels {
  private folder?: ModelFolder;
  private textEncoder?: Promise<TextEncoder>;
  private vae?: Promise<Vae>;
  private tokenizer?: ClipTokenizer;
  private readonly unets = new Map<string, Promise<Unet>>();

  constructor(readonly modelDir: string, readonly cacheDir?: string) {}

  private model(): ModelFolder {
    this.folder ??= openModelFolder(this.modelDir);
    return this.folder;
  }

  /** The CLIP tokenizer. */
  clipTokenizer(): ClipTokenizer {
    this.tokenizer ??= ClipTokenizer.fromFolder(this.model().tokenizerDir);
    return this.tokenizer;
  }

  /** A fresh DDIM scheduler from the folder's config. */
  scheduler(): DdimScheduler {
    return DdimScheduler.fromConfigFile(this.model().schedulerConfigPath);
  }

  /** The text encoder session. */
  text(): Promise<TextEncoder> {
    const te = this.model().textEncoder;
    this.textEncoder ??= TextEncoder.load(textEncoderConfig(te.config), te.weights, { cacheDir: this.cacheDir });
    return this.textEncoder;
  }

  /** Embeddings [B, 77, D] of prompts. */
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
    return (subfolder ? openModelFolder(this.modelDir, { unetSubfolder: subfolder }) : this.model()).unet.weights;
  }

  /** A UNet session: 2D when `video` is absent; `subfolder` picks e.g. unet_tuned. */
  unet(options: { subfolder?: string; video?: { selectors: FrameSelector[]; leastScChannel: number }; injected?: Map<string, Float32Array> } = {}): Promise<Unet> {
    const key = JSON.stringify([options.subfolder, options.video, options.injected ? injectedHash(options.injected) : null]);
    let u = this.unets.get(key);
    if (!u) {
      const folder = options.subfolder ? openModelFolder(this.modelDir, { unetSubfolder: options.subfolder }) : this.model();
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
