"""Train the world model: a VAE stage, then the text encoder and UNet together, then a diffusers folder.

  python3 train/train_world.py --work .train/world --out models/world [--plan full|smoke]

`--work` holds what `fatezero world-training-data` wrote (data/, skeleton/) and this program's checkpoints;
a run that is stopped resumes from its last checkpoint (batches, noise and dropout come from saved random
states, so a resumed run ends with the same weights as an uninterrupted one). The model's architecture is
read from the skeleton's config.json files; the training schedule is PLANS below.
"""
import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autoencoder import SD_LATENT_SCALE, rescale_vae, train_vae, vae_psnr  # noqa: E402
from denoiser import caption_gain, colour_steering, train_denoiser  # noqa: E402
from progress import SEED, WorldData  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from world_model import AutoencoderKL, ClipTextModel, UNet2DConditionModel  # noqa: E402

# The training schedules: "full" makes the committed model, "smoke" is its 2-step miniature (what CI runs).
PLANS = {
    "full": dict(
        vae_steps=3200, vae_batch=16, vae_crop=64, vae_lr=5e-4, kl_weight=1e-6,
        unet_steps=2600, unet_batch=16, unet_lr=3e-4, caption_dropout=0.1, attention_weight=0.1, ema=0.999,
        warmup=100, checkpoint_seconds=300, validation_share=0.02,
    ),
    "smoke": dict(
        vae_steps=2, vae_batch=2, vae_crop=64, vae_lr=5e-4, kl_weight=1e-6,
        unet_steps=2, unet_batch=2, unet_lr=3e-4, caption_dropout=0.1, attention_weight=0.1, ema=0.999,
        warmup=1, checkpoint_seconds=300, validation_share=0.5,
    ),
}


def check_names(module, skeleton_file, prefix_filter=None):
    """The module's parameters must be exactly the skeleton's tensors (names and shapes) the runtime reads."""
    want = {k: tuple(v.shape) for k, v in read_safetensors(skeleton_file).items() if k != "text_model.embeddings.position_ids"}
    have = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    if want != have:
        missing = sorted(set(want) - set(have))[:5]
        extra = sorted(set(have) - set(want))[:5]
        shapes = [k for k in want if k in have and want[k] != have[k]][:5]
        raise SystemExit(f"{skeleton_file}: parameters differ from the training program's (missing {missing}, extra {extra}, shapes {shapes})")


def half(module):
    """The module's float tensors as fp16 (what the folder stores), and the module set to those values."""
    out = {}
    with torch.no_grad():
        for k, v in module.state_dict().items():
            out[k] = v.half()
            v.copy_(out[k].float())
    return out


@torch.no_grad()
def write_folder(out, skeleton, text, unet, vae, data, report):
    """The diffusers folder (fp16 weights, the skeleton's configs, tokenizer and scheduler) and its probe."""
    tmp = out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(skeleton, tmp)
    position_ids = read_safetensors(os.path.join(skeleton, "text_encoder", "model.safetensors"))["text_model.embeddings.position_ids"]
    write_safetensors(os.path.join(tmp, "text_encoder", "model.safetensors"), {**half(text), "text_model.embeddings.position_ids": position_ids})
    write_safetensors(os.path.join(tmp, "unet", "diffusion_pytorch_model.safetensors"), half(unet))
    write_safetensors(os.path.join(tmp, "vae", "diffusion_pytorch_model.safetensors"), half(vae))
    index_path = os.path.join(tmp, "model_index.json")
    with open(index_path) as f:
        index = json.load(f)
    index["_fatezero"] = {"generator": "train/train_world.py", "model": index["_fatezero"].get("model"), **report}
    with open(index_path, "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(os.path.dirname(os.path.abspath(out)), os.path.basename(out.rstrip("/")) + "-probe.safetensors"), probe(text, unet, vae, data))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


@torch.no_grad()
def probe(text, unet, vae, data):
    """Small fixed inputs and the trained networks' outputs, which the runtime must reproduce from the folder."""
    gen = torch.Generator().manual_seed(7)
    ids = torch.stack([data.empty_ids, torch.from_numpy(data.ids[0, 0].astype(np.int64))])  # [2, 77]
    context = text(ids)  # [2, 77, D]
    h = data.meta["size"] // 8
    sample = torch.randn((2, 4, h, h), generator=gen)  # [2, 4, h, w]
    timestep = torch.tensor([500.0])
    noise = unet(sample, timestep.expand(2), context)
    frame = data.images(np.array([0]))  # [1, 3, S, S]
    mean, _ = vae.encode(frame)
    decoded = vae.decode(sample / SD_LATENT_SCALE)
    return {"text.ids": ids, "text.hidden": context, "unet.sample": sample, "unet.timestep": timestep, "unet.noise_pred": noise, "vae.image": frame, "vae.mean": mean, "vae.decoded": decoded}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="folder with data/ and skeleton/ (from fatezero world-training-data); checkpoints go here")
    parser.add_argument("--out", required=True, help="the diffusers folder to write")
    parser.add_argument("--plan", choices=sorted(PLANS), default="full")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    plan = PLANS[args.plan]
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    work, skeleton = args.work, os.path.join(args.work, "skeleton")
    config = lambda part: json.load(open(os.path.join(skeleton, part, "config.json")))
    text, unet, vae = ClipTextModel(config("text_encoder")), UNet2DConditionModel(config("unet")), AutoencoderKL(config("vae"))
    check_names(text, os.path.join(skeleton, "text_encoder", "model.safetensors"))
    check_names(unet, os.path.join(skeleton, "unet", "diffusion_pytorch_model.safetensors"))
    check_names(vae, os.path.join(skeleton, "vae", "diffusion_pytorch_model.safetensors"))
    data = WorldData(os.path.join(work, "data"))
    clips = data.meta["clips"]
    held_out = int(clips * plan["validation_share"])
    frames_per_clip = data.count // clips
    train_idx = np.arange((clips - held_out) * frames_per_clip)
    val_idx = np.arange((clips - held_out) * frames_per_clip, data.count)
    count = lambda m: sum(p.numel() for p in m.parameters())
    print(f"world model: text encoder {count(text) / 1e6:.2f} M, UNet {count(unet) / 1e6:.2f} M, VAE {count(vae) / 1e6:.2f} M parameters; "
          f"{len(train_idx)} training frames, {len(val_idx)} held out; plan {args.plan}, {args.threads} threads", flush=True)
    started = time.time()
    train_vae(vae, data, train_idx, plan, work)
    vae.eval()
    latents = rescale_vae(vae, data, work)
    psnr = vae_psnr(vae, data, val_idx) if len(val_idx) else None
    print(f"vae: held-out reconstruction PSNR {psnr if psnr is None else round(psnr, 2)} dB", flush=True)
    losses = train_denoiser(unet, text, latents, data, train_idx, plan, work)
    report = {"plan": args.plan, "trainingClips": clips - held_out, "vaeSteps": plan["vae_steps"], "denoiserSteps": plan["unet_steps"],
              "vaeHeldOutPsnr": psnr and round(psnr, 2), "finalLosses": {k: round(v, 4) for k, v in losses.items()}}
    unet.eval()
    text.eval()
    if len(val_idx):
        report["heldOutCaptionGain"] = caption_gain(text, unet, latents, data, val_idx)
        report["heldOutColourSteering"] = colour_steering(text, unet, vae, latents, data, val_idx)
    write_folder(args.out, skeleton, text, unet, vae, data, report)
    report["minutes"] = round((time.time() - started) / 60, 1)
    print("report " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
