"""Train the world model: a VAE stage, the text encoder and UNet together, a high-noise refine stage of those
two, then a diffusers folder.

  python3 train/train_world.py --work .train/world --out models/world [--plan full|v2|smoke|gpu|gpu-smoke] [--base FOLDER]
                                [--device cpu|cuda] [--precision auto|fp32|bf16]

`--work` holds what `fatezero world-training-data` wrote (data/, skeleton/) and this program's checkpoints;
a run that is stopped resumes from its last checkpoint (batches, noise and dropout come from saved random
states, so a resumed run ends with the same weights as an uninterrupted one). The model's architecture is
read from the skeleton's config.json files, the noise schedule, latent scale and VAE factor from its scheduler and
VAE configs (train/model_folder.py), the data's layout and the supervised attention layers from data/meta.json;
the training schedule is PLANS below.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autoencoder import encode_frames, rescale_vae, train_vae, vae_psnr  # noqa: E402
from denoiser import attention_layers, caption_gain, colour_steering, train_denoiser  # noqa: E402
from machine import check_machine, cpu_seconds, resolve_precision  # noqa: E402
from model_folder import ModelFolder  # noqa: E402
from progress import SEED, WorldData, refuse  # noqa: E402
from safetensors_io import read_safetensors, tensor_shapes, write_safetensors  # noqa: E402
from world_model import AutoencoderKL, ClipTextModel, UNet2DConditionModel  # noqa: E402

# The training schedules: "full" makes the committed model, "smoke" is its 2-step miniature (what CI runs),
# "gpu" is for one call of a lent GPU machine (train/gpu.py; its skeleton has a wider VAE): its stages end by a
# time budget (`_minutes`), as that machine's speed is not known in advance, so its result is not reproducible
# bit for bit; it trains on whole frames, with the ε error weighted towards high noise and the vehicle from the
# start, and has no refine stage.
PLANS = {
    "full": dict(
        vae_steps=3200, vae_batch=16, vae_crop=64, vae_lr=5e-4, vae_warmup=100, kl_weight=1e-6,
        unet_steps=2600, unet_batch=16, unet_lr=3e-4, unet_warmup=100, unet_ema=0.999, caption_dropout=0.1, attention_weight=0.1,
        refine_steps=1000, refine_lr=5e-4, refine_warmup=20, refine_ema=0.995, refine_t_min=500, refine_max_weight=20, refine_vehicle_weight=8,
        checkpoint_seconds=300, validation_share=0.02,
    ),
    "smoke": dict(
        vae_steps=2, vae_batch=2, vae_crop=64, vae_lr=5e-4, vae_warmup=1, kl_weight=1e-6,
        unet_steps=2, unet_batch=2, unet_lr=3e-4, unet_warmup=1, unet_ema=0.999, caption_dropout=0.1, attention_weight=0.1,
        refine_steps=2, refine_lr=5e-4, refine_warmup=1, refine_ema=0.995, refine_t_min=500, refine_max_weight=20, refine_vehicle_weight=8,
        checkpoint_seconds=300, validation_share=0.5,
    ),
    "gpu": dict(
        vae_steps=100000, vae_minutes=3.0, vae_batch=32, vae_crop=128, vae_lr=5e-4, vae_warmup=200, kl_weight=1e-6,
        unet_steps=100000, unet_minutes=4.0, unet_batch=128, unet_lr=4e-4, unet_warmup=200, unet_ema=0.999, caption_dropout=0.1,
        attention_weight=0.1, unet_max_weight=5, unet_vehicle_weight=4,
        refine_steps=0, refine_lr=5e-4, refine_warmup=1, refine_ema=0.995,
        checkpoint_seconds=60, validation_share=0.02,
    ),
}
# "v2": the refine stage run from the committed model (--base models/world) on this CPU's fast path: batches of 64
# over all timesteps with Min-SNR-γ weights, the vehicle's latent pixels weighted 4×, and a time budget that
# ends it within one session (so, like "gpu", not reproducible bit for bit; the report records its steps).
PLANS["v2"] = {**PLANS["full"], **dict(refine_steps=100000, refine_minutes=65.0, refine_batch=64, refine_lr=2e-4, refine_warmup=50, refine_ema=0.999,
                                       refine_t_min=0, refine_max_weight=None, refine_min_snr_gamma=5.0, refine_vehicle_weight=4, checkpoint_seconds=120)}
# The "gpu" plan's miniature, with budgets of seconds: what CI runs of it (on the CPU).
PLANS["gpu-smoke"] = {**PLANS["gpu"], **dict(vae_minutes=0.02, vae_batch=2, vae_crop=64, vae_warmup=1, unet_minutes=0.02, unet_batch=2, unet_warmup=1,
                                             validation_share=0.5)}
# What the refine stage starts from: the earlier stages' weights as stored (fp16), so that it can also start
# from a committed folder (--base) and reproduce the same result as after training them.
BASE_FILES = ("text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors")
# The text encoder file's one tensor that is not a parameter (CLIP's position index, int64, stored as given).
POSITION_IDS = "text_model.embeddings.position_ids"


def check_names(module, skeleton_file, prefix_filter=None):
    """The module's parameters must be exactly the skeleton's tensors (names and shapes) the runtime reads."""
    want = {k: shape for k, shape in tensor_shapes(skeleton_file).items() if k != POSITION_IDS}
    have = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    if want != have:
        missing = sorted(set(want) - set(have))[:5]
        extra = sorted(set(have) - set(want))[:5]
        shapes = [k for k in want if k in have and want[k] != have[k]][:5]
        refuse(f"{skeleton_file}: parameters differ from the training program's (missing {missing}, extra {extra}, shapes {shapes})")


def probe_path(out):
    """Where the probe of the model folder `out` goes: beside it, as `<name>-probe.safetensors`."""
    return os.path.join(os.path.dirname(os.path.abspath(out)), os.path.basename(out.rstrip("/")) + "-probe.safetensors")


def written_here(folder, skeleton):
    """Whether `folder` is a model folder this program wrote: its model_index.json names this generator and it
    holds nothing but the skeleton's entries."""
    try:
        with open(os.path.join(folder, "model_index.json")) as f:
            stamp = json.load(f).get("_fatezero")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(stamp, dict) and stamp.get("generator") == "train/train_world.py" and set(os.listdir(folder)) <= set(os.listdir(skeleton))


def check_out(out, skeleton):
    """--out, its staging folder and its probe are replaced when training ends: refuse now, before any step,
    anything there that this program did not write (a user's folder, a link, a file)."""
    ours = written_here(out, skeleton)
    for path in (out, out.rstrip("/") + ".tmp"):
        if os.path.islink(path):
            refuse(f"--out {out}: {path} is a link; give the folder itself")
        if os.path.exists(path) and not (os.path.isdir(path) and (not os.listdir(path) or written_here(path, skeleton))):
            refuse(f"--out {out}: {path} is not a model folder this program wrote (model_index.json by train/train_world.py); give a new folder")
    if os.path.lexists(probe_path(out)) and not ours:
        refuse(f"--out {out}: {probe_path(out)} exists and {out} is not a model folder this program wrote; give a new folder")


def adopt_base(folder, base, work):
    """Copy a model folder's weights in as the refine stage's start (refusing to replace a different one)."""
    for f in BASE_FILES + ("model_index.json",):
        if not os.path.isfile(os.path.join(folder, f)):
            refuse(f"--base {folder}: no {f} (a diffusers folder written by this program, e.g. models/world)")
    if os.path.exists(os.path.join(base, "model_index.json")):
        read = lambda root, f: open(os.path.join(root, f), "rb").read()
        if any(read(folder, f) != read(base, f) for f in BASE_FILES):
            refuse(f"{base} holds other weights than {folder}; delete it (the refine stage restarts) or use another --work")
        return
    fresh_base(work)
    tmp = base + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for f in BASE_FILES + ("model_index.json",):
        os.makedirs(os.path.dirname(os.path.join(tmp, f)), exist_ok=True)
        shutil.copyfile(os.path.join(folder, f), os.path.join(tmp, f))
    os.replace(tmp, base)


def fresh_base(work):
    """A new base invalidates the refine stage's checkpoint and latents."""
    for f in ("refine.pt", "refine-latents.pt"):
        if os.path.exists(os.path.join(work, f)):
            os.remove(os.path.join(work, f))


def load_base(base, text, unet, vae):
    """The base folder's fp16 weights into the (fp32) modules; returns its report."""
    for module, f in zip((text, unet, vae), BASE_FILES):
        tensors = {k: v.float() for k, v in read_safetensors(os.path.join(base, f)).items() if k != POSITION_IDS}
        try:
            module.load_state_dict(tensors)
        except RuntimeError as e:
            refuse(f"{base}/{f}: does not fit the skeleton's architecture: {str(e).splitlines()[0]}")
    with open(os.path.join(base, "model_index.json")) as f:
        return json.load(f).get("_fatezero", {})


@torch.no_grad()
def base_latents(vae, data, work):
    """Every frame's latents through the base's (fp16-rounded) VAE, cached in the work folder."""
    path = os.path.join(work, "refine-latents.pt")
    if os.path.exists(path):
        return torch.load(path, map_location=data.device)
    latents = encode_frames(vae, data)
    torch.save(latents, path + ".tmp")
    os.replace(path + ".tmp", path)
    return latents


def half(module):
    """The module's float tensors as fp16 (what the folder stores), and the module set to those values."""
    out = {}
    with torch.no_grad():
        for k, v in module.state_dict().items():
            out[k] = v.half()
            v.copy_(out[k].float())
    return out


@torch.no_grad()
def write_folder(out, skeleton, text, unet, vae, data, folder, report, with_probe=True):
    """The diffusers folder (fp16 weights, the skeleton's configs, tokenizer and scheduler) and its probe; the
    modules keep the fp16-rounded values."""
    tmp = out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(skeleton, tmp)
    position_ids = read_safetensors(os.path.join(skeleton, "text_encoder", "model.safetensors"))[POSITION_IDS]
    write_safetensors(os.path.join(tmp, "text_encoder", "model.safetensors"), {**half(text), POSITION_IDS: position_ids})
    write_safetensors(os.path.join(tmp, "unet", "diffusion_pytorch_model.safetensors"), half(unet))
    write_safetensors(os.path.join(tmp, "vae", "diffusion_pytorch_model.safetensors"), half(vae))
    index_path = os.path.join(tmp, "model_index.json")
    with open(index_path) as f:
        index = json.load(f)
    index["_fatezero"] = {"generator": "train/train_world.py", "model": index["_fatezero"].get("model"), **report}
    with open(index_path, "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    if with_probe:
        write_safetensors(probe_path(out), probe(text, unet, vae, data, folder))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


@torch.no_grad()
def probe(text, unet, vae, data, folder):
    """Small fixed inputs and the trained networks' outputs, which the runtime must reproduce from the folder."""
    gen = torch.Generator().manual_seed(7)
    ids = torch.stack([data.empty_ids.cpu(), torch.from_numpy(data.ids[0, 0].astype(np.int64))])  # [2, 77]
    context = text(ids)  # [2, 77, D]
    h = data.meta["size"] // folder.vae_factor
    sample = torch.randn((2, 4, h, h), generator=gen)  # [2, 4, h, w]
    timestep = torch.tensor([500.0])
    noise = unet(sample, timestep.expand(2), context)
    frame = data.images(np.array([0])).cpu()  # [1, 3, S, S]
    mean, _ = vae.encode(frame)
    decoded = vae.decode(sample / folder.latent_scale)
    return {"text.ids": ids, "text.hidden": context, "unet.sample": sample, "unet.timestep": timestep, "unet.noise_pred": noise, "vae.image": frame, "vae.mean": mean, "vae.decoded": decoded}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="folder with data/ and skeleton/ (from fatezero world-training-data); checkpoints go here")
    parser.add_argument("--out", required=True, help="the diffusers folder to write")
    parser.add_argument("--plan", choices=sorted(PLANS), default="full")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--base", help="start the refine stage from this folder's weights (e.g. an earlier models/world) instead of training the VAE and denoiser stages")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train (the written folder and its probe are always computed on the CPU)")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="the denoiser's forward passes: fp32, or bf16 autocast on the CPU's matrix units; auto is fp32 (measured faster here, docs/world-model.md)")
    args = parser.parse_args()
    plan = PLANS[args.plan]
    if args.device == "cuda":
        if not torch.cuda.is_available():
            refuse("--device cuda: this PyTorch sees no CUDA device")
        # TF32 matrix products (cuDNN's convolutions use it by default): about 3 decimal digits, ample for training.
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(args.threads)
    machine = check_machine(args.device)
    precision = resolve_precision(args.precision)
    torch.manual_seed(SEED)
    work, skeleton = args.work, os.path.join(args.work, "skeleton")
    check_out(args.out, skeleton)
    folder = ModelFolder(skeleton)
    if folder.configs["scheduler"].get("prediction_type", "epsilon") != "epsilon":
        refuse(f"{skeleton}/scheduler/scheduler_config.json: prediction_type {folder.configs['scheduler']['prediction_type']!r}; this program trains ε prediction")
    text, unet, vae = (ClipTextModel(folder.configs["text_encoder"]), UNet2DConditionModel(folder.configs["unet"]),
                       AutoencoderKL(folder.configs["vae"]))
    check_names(text, os.path.join(skeleton, "text_encoder", "model.safetensors"))
    check_names(unet, os.path.join(skeleton, "unet", "diffusion_pytorch_model.safetensors"))
    check_names(vae, os.path.join(skeleton, "vae", "diffusion_pytorch_model.safetensors"))
    # channels_last: oneDNN's convolutions run without layout reorders (measured 20-30 % faster per step here).
    text, unet, vae = text.to(args.device), unet.to(args.device, memory_format=torch.channels_last), vae.to(args.device)
    data = WorldData(os.path.join(work, "data"), args.device)
    if data.vehicle.shape[1] * folder.vae_factor != data.meta["size"]:
        refuse(f"{work}/data: vehicle coverage of {data.vehicle.shape[1]}² for {data.meta['size']}² frames, but the skeleton's VAE factor is {folder.vae_factor}")
    layers = attention_layers(unet, data.meta["attentionLayers"])
    clips = data.meta["clips"]
    held_out = int(clips * plan["validation_share"])
    frames_per_clip = data.count // clips
    train_idx = np.arange((clips - held_out) * frames_per_clip)
    val_idx = np.arange((clips - held_out) * frames_per_clip, data.count)
    count = lambda m: sum(p.numel() for p in m.parameters())
    print(f"world model: text encoder {count(text) / 1e6:.2f} M, UNet {count(unet) / 1e6:.2f} M, VAE {count(vae) / 1e6:.2f} M parameters; "
          f"{len(train_idx)} training frames, {len(val_idx)} held out; plan {args.plan}, {args.threads} threads, device {args.device}, precision {precision}", flush=True)
    started, base = time.time(), os.path.join(work, "base")
    if args.base:
        adopt_base(args.base, base, work)
    if not os.path.exists(os.path.join(base, "model_index.json")):
        vae_steps = train_vae(vae, data, train_idx, plan, work)
        vae.eval()
        latents = rescale_vae(vae, data, work)
        losses, denoiser = train_denoiser(unet, text, latents, data, train_idx, plan, work, folder, layers, precision=precision)
        fresh_base(work)
        write_folder(base, skeleton, text, unet, vae, data, folder, {"plan": args.plan, "vaeSteps": vae_steps, "denoiserSteps": denoiser["steps"],
                                                             "finalLosses": {k: round(v, 4) for k, v in losses.items()}}, with_probe=False)
    base_report = load_base(base, text, unet, vae)
    vae.eval()
    latents = base_latents(vae, data, work)
    psnr = vae_psnr(vae, data, val_idx) if len(val_idx) else None
    print(f"vae: held-out reconstruction PSNR {psnr if psnr is None else round(psnr, 2)} dB", flush=True)
    prior = base_report.get("finalLosses", {})
    refined, refine = train_denoiser(unet, text, latents, data, train_idx, plan, work, folder, layers, stage="refine", precision=precision)
    with open(os.path.join(base, BASE_FILES[1]), "rb") as f:
        base_id = {"source": "--base" if args.base else "trained", "unetSha256": hashlib.sha256(f.read()).hexdigest()}
    report = {"plan": args.plan, "base": base_id, "trainingClips": clips - held_out, "vaeSteps": base_report.get("vaeSteps"),
              "denoiserSteps": base_report.get("denoiserSteps"), "refineSteps": refine["steps"], "vaeHeldOutPsnr": psnr and round(psnr, 2),
              "refine": refine, "precision": precision, "machine": machine, "torch": torch.__version__,
              "finalLosses": {"denoiser": prior.get("denoiser", prior), "refine": {k: round(v, 4) for k, v in refined.items()}}}
    unet.eval()
    text.eval()
    if len(val_idx):
        report["heldOutCaptionGain"] = caption_gain(text, unet, latents, data, val_idx, folder)
        report["heldOutColourSteering"] = colour_steering(text, unet, vae, latents, data, val_idx, folder)
    report["cpuHoursThisRun"] = round(cpu_seconds() / 3600, 2)
    write_folder(args.out, skeleton, text.cpu(), unet.cpu(), vae.cpu(), data, folder, report)
    report["minutes"] = round((time.time() - started) / 60, 1)
    print("report " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
