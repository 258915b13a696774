"""Train the world model: a VAE stage, then the text encoder and UNet together, then a diffusers folder.

  python3 train/train_world.py --work .train/world --out models/world [--plan full|smoke]

`--work` holds what `fatezero world-training-data` wrote (data/, skeleton/) and this program's checkpoints;
a run that is stopped resumes from its last checkpoint (batches, noise and dropout come from saved random
states, so a resumed run ends with the same weights as an uninterrupted one). The model's architecture is
read from the skeleton's config.json files; the training schedule is PLANS below.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from world_model import AutoencoderKL, ClipTextModel, UNet2DConditionModel  # noqa: E402

# SD 1.x's latent scale: the runtime multiplies VAE latents by it, so the trained VAE is rescaled to match.
SD_LATENT_SCALE = 0.18215

PLANS = {
    "full": dict(
        vae_steps=3200, vae_batch=16, vae_crop=64, vae_lr=5e-4, kl_weight=1e-6,
        unet_steps=2600, unet_batch=16, unet_lr=3e-4, caption_dropout=0.1, attention_weight=0.1, ema=0.999,
        warmup=100, checkpoint_seconds=300, validation_share=0.02,
    ),
    "smoke": dict(
        vae_steps=2, vae_batch=2, vae_crop=64, vae_lr=5e-4, kl_weight=1e-6,
        unet_steps=2, unet_batch=2, unet_lr=3e-4, caption_dropout=0.1, attention_weight=0.1, ema=0.999,
        warmup=1, checkpoint_seconds=300, validation_share=0.0,
    ),
}
SEED = 20231001


class WorldData:
    """The exported training set: frames, caption ids per variant, vehicle tokens, vehicle coverage."""

    def __init__(self, folder):
        with open(os.path.join(folder, "meta.json")) as f:
            self.meta = m = json.load(f)
        n, s, v, t = m["frames"], m["size"], m["variants"], m["tokens"]
        load = lambda name, dtype, shape: np.memmap(os.path.join(folder, name), dtype=dtype, mode="r", shape=shape)
        self.frames = load("frames.u8", np.uint8, (n, s, s, 3))
        self.ids = load("ids.i32", "<i4", (n, v, t))
        self.object_tokens = load("objectTokens.u8", np.uint8, (n, v, t))
        self.vehicle = load("vehicle.u8", np.uint8, (n, s // 8, s // 8))
        self.empty_ids = torch.tensor(m["emptyIds"], dtype=torch.int64)
        self.count = n

    def images(self, idx):  # → [B, 3, S, S] in [-1, 1]
        x = torch.from_numpy(np.ascontiguousarray(self.frames[idx])).float()
        return (x / 127.5 - 1).permute(0, 3, 1, 2)


def log(stage, step, total, started, resumed, **values):
    """A progress line; the time left is extrapolated from the steps done since this run (re)started."""
    elapsed = time.time() - started
    eta = elapsed / max(step - resumed, 1) * (total - step)
    parts = " ".join(f"{k} {v:.4f}" for k, v in values.items())
    print(f"{stage:8s} {step}/{total} {parts} elapsed {elapsed / 60:.1f} min, eta {eta / 60:.1f} min", flush=True)


def lr_at(step, total, peak, warmup):
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


class Checkpoint:
    """A stage's state in one file, written atomically every `seconds` and at the end."""

    def __init__(self, path, seconds):
        self.path, self.seconds, self.last = path, seconds, time.time()

    def load(self):
        return torch.load(self.path) if os.path.exists(self.path) else None

    def save(self, state, force=False):
        if not force and time.time() - self.last < self.seconds:
            return
        torch.save(state, self.path + ".tmp")
        os.replace(self.path + ".tmp", self.path)
        self.last = time.time()


def rng_state(gen):
    return {"torch": gen.get_state(), "numpy": np.random.get_state()}


def set_rng_state(gen, s):
    gen.set_state(s["torch"])
    np.random.set_state(s["numpy"])


def train_vae(vae, data, train_idx, plan, work):
    """Reconstruction (MSE + L1 on random crops) with a small KL term, as SD's first stage without its GAN."""
    ck = Checkpoint(os.path.join(work, "vae.pt"), plan["checkpoint_seconds"])
    opt = torch.optim.AdamW(vae.parameters(), lr=plan["vae_lr"], weight_decay=0.0)
    gen = torch.Generator().manual_seed(SEED)
    np.random.seed(SEED)
    step, state = 0, ck.load()
    if state:
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        set_rng_state(gen, state["rng"])
        step = state["step"]
    total, started, smooth, resumed = plan["vae_steps"], time.time(), None, step
    crop, size = plan["vae_crop"], data.meta["size"]
    while step < total:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, plan["vae_lr"], plan["warmup"])
        idx = np.sort(np.random.choice(train_idx, plan["vae_batch"], replace=False))
        x = data.images(idx)
        # Crops on the latent grid, so the encoder sees the same 8-pixel phase as whole frames.
        oy, ox = (np.random.randint(0, (size - crop) // 8 + 1, size=2) * 8).tolist()
        x = x[:, :, oy : oy + crop, ox : ox + crop]
        mean, logvar = vae.encode(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
        y = vae.decode(z)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum() / x.shape[0]
        loss = F.mse_loss(y, x) + 0.25 * (y - x).abs().mean() + plan["kl_weight"] * kl
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        if step % 50 == 0 or step == total:
            log("vae", step, total, started, resumed, loss=smooth)
        ck.save({"model": vae.state_dict(), "opt": opt.state_dict(), "rng": rng_state(gen), "step": step}, force=step == total)


@torch.no_grad()
def vae_psnr(vae, data, idx):
    """PSNR (dB, on 0..255 pixels) of decode(encode-mean) over frames `idx`."""
    errs = []
    for i in range(0, len(idx), 32):
        x = data.images(idx[i : i + 32])
        y = vae.decode(vae.encode(x)[0]).clamp(-1, 1)
        errs.append(((y - x) * 127.5).pow(2).mean(dim=(1, 2, 3)))
    mse = torch.cat(errs).mean().item()
    return 10 * math.log10(255**2 / max(mse, 1e-12))


@torch.no_grad()
def rescale_vae(vae, data, work):
    """Scale the posterior so SD's 0.18215·z has unit spread; return every frame's scaled mean and std."""
    path = os.path.join(work, "latents.pt")
    if os.path.exists(path):
        saved = torch.load(path)
        vae.load_state_dict(saved["vae"])
        return saved["mean"], saved["std"]
    means, stds = [], []
    for i in range(0, data.count, 64):
        m, lv = vae.encode(data.images(np.arange(i, min(i + 64, data.count))))
        means.append(m)
        stds.append(torch.exp(0.5 * lv))
    mean, std = torch.cat(means), torch.cat(stds)  # [N, 4, h, w]
    a = 1.0 / (SD_LATENT_SCALE * mean.std().item())
    z = vae.quant_conv.out_channels // 2
    # quant_conv's mean rows scale by a (log-variance rows shift by 2·ln a); post_quant_conv undoes it.
    vae.quant_conv.weight[:z] *= a
    vae.quant_conv.bias[:z] *= a
    vae.quant_conv.bias[z:] += 2 * math.log(a)
    vae.post_quant_conv.weight /= a
    mean, std = mean * a, std * a
    torch.save({"vae": vae.state_dict(), "mean": mean, "std": std, "scale": a}, path)
    return mean, std


def attention_layers(unet, latent):
    """The cross-attention modules at the two finest levels, with the latent size of each."""
    out = []
    for name, m in unet.cross_attentions():
        block = name.split(".")
        if block[0] == "mid_block":
            continue
        i = int(block[1])
        level = i if block[0] == "down_blocks" else len(unet.up_blocks) - 1 - i
        if level <= 1:
            m.keep_probs = True
            out.append((m, latent >> level))
    return out


def attention_loss(layers, object_tokens, coverage):
    """1 − the share of the vehicle words' attention that falls on the vehicle, over layers and captions."""
    keep = object_tokens.sum(-1) > 0  # [B] captions that name a vehicle (not dropped)
    if not keep.any():
        return torch.zeros(())
    losses = []
    for m, size in layers:
        cov = coverage if size == coverage.shape[-1] else F.avg_pool2d(coverage[:, None], coverage.shape[-1] // size)[:, 0]
        mass = (m.probs.mean(1) * object_tokens[:, None, :]).sum(-1)  # [B, L] attention on the vehicle words
        inside = (mass * cov.flatten(1)).sum(-1) / (mass.sum(-1) + 1e-8)
        losses.append((1 - inside)[keep].mean())
    return torch.stack(losses).mean()


def alphas_cumprod():
    """SD's training schedule: β "scaled_linear" from 0.00085 to 0.012 over 1000 steps."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def train_denoiser(unet, text, latents, data, train_idx, plan, work):
    """ε-prediction on the latents with captions (dropped for classifier-free guidance) and the attention term."""
    ck = Checkpoint(os.path.join(work, "denoiser.pt"), plan["checkpoint_seconds"])
    params = list(unet.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=plan["unet_lr"], weight_decay=0.01)
    ema = [p.detach().clone() for p in params]
    gen = torch.Generator().manual_seed(SEED + 1)
    np.random.seed(SEED + 1)
    step, state = 0, ck.load()
    if state:
        unet.load_state_dict(state["unet"])
        text.load_state_dict(state["text"])
        opt.load_state_dict(state["opt"])
        ema = state["ema"]
        set_rng_state(gen, state["rng"])
        step = state["step"]
    mean, std = latents
    ac = alphas_cumprod()
    layers = attention_layers(unet, mean.shape[-1])
    total, started, smooth, resumed = plan["unet_steps"], time.time(), {}, step
    B = plan["unet_batch"]
    while step < total:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, plan["unet_lr"], plan["warmup"])
        idx = np.sort(np.random.choice(train_idx, B, replace=False))
        variant = np.random.randint(0, data.meta["variants"], size=B)
        ids = torch.from_numpy(np.stack([data.ids[i, v] for i, v in zip(idx, variant)]).astype(np.int64))
        objects = torch.from_numpy(np.stack([data.object_tokens[i, v] for i, v in zip(idx, variant)]).astype(np.float32))
        drop = torch.rand(B, generator=gen) < plan["caption_dropout"]
        ids[drop] = data.empty_ids
        objects[drop] = 0
        coverage = torch.from_numpy(np.ascontiguousarray(data.vehicle[idx])).float() / 255  # [B, h, w]
        z0 = SD_LATENT_SCALE * (mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=gen))
        t = torch.randint(0, 1000, (B,), generator=gen)
        noise = torch.randn(z0.shape, generator=gen)
        a = ac[t][:, None, None, None]
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        pred = unet(zt, t, text(ids))
        mse = F.mse_loss(pred, noise)
        attn = attention_loss(layers, objects, coverage)
        loss = mse + plan["attention_weight"] * attn
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(plan["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        for k, v in (("mse", mse.item()), ("attention", attn.item())):
            smooth[k] = v if k not in smooth else 0.98 * smooth[k] + 0.02 * v
        if step % 25 == 0 or step == total:
            log("denoiser", step, total, started, resumed, **smooth)
        ck.save({"unet": unet.state_dict(), "text": text.state_dict(), "opt": opt.state_dict(), "ema": ema, "rng": rng_state(gen), "step": step}, force=step == total)
    with torch.no_grad():
        for e, p in zip(ema, params):
            p.copy_(e)
    return smooth


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
    write_folder(args.out, skeleton, text, unet, vae, data, report)
    report["minutes"] = round((time.time() - started) / 60, 1)
    print("report " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
