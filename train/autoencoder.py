"""The VAE's stage: SD's first stage without its GAN, then rescaled to the latent scale of its config."""
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from model_folder import latent_scale, vae_factor
from progress import SEED, Checkpoint, StageClock, rng_state, set_rng_state


def train_vae(vae, data, train_idx, plan, work):
    """Reconstruction (MSE + L1 on random crops) with a small KL term, as SD's first stage without its GAN."""
    ck = Checkpoint(os.path.join(work, "vae.pt"), plan["checkpoint_seconds"])
    opt = torch.optim.AdamW(vae.parameters(), lr=plan["vae_lr"], weight_decay=0.0)
    gen = torch.Generator().manual_seed(SEED)
    np.random.seed(SEED)
    step, seconds, state = 0, 0.0, ck.load(data.device)
    if state:
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        set_rng_state(gen, state["rng"])
        step, seconds = state["step"], state.get("seconds", 0.0)
    clock = StageClock(plan["vae_steps"], plan["vae_warmup"], plan.get("vae_minutes"), step, seconds, plan["vae_batch"])
    smooth = None
    crop, size, factor = plan["vae_crop"], data.meta["size"], vae_factor(vae.config)
    while not clock.done(step):
        for g in opt.param_groups:
            g["lr"] = clock.lr(step, plan["vae_lr"])
        idx = np.sort(np.random.choice(train_idx, plan["vae_batch"], replace=False))
        x = data.images(idx)
        # Crops on the latent grid, so the encoder sees the same phase of its factor as whole frames.
        oy, ox = (np.random.randint(0, (size - crop) // factor + 1, size=2) * factor).tolist()
        x = x[:, :, oy : oy + crop, ox : ox + crop]
        mean, logvar = vae.encode(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen).to(x.device)
        y = vae.decode(z)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum() / x.shape[0]
        loss = F.mse_loss(y, x) + 0.25 * (y - x).abs().mean() + plan["kl_weight"] * kl
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        last = clock.done(step)
        if step % 50 == 0 or last:
            clock.log("vae", step, loss=smooth)
        ck.save({"model": vae.state_dict(), "opt": opt.state_dict(), "rng": rng_state(gen), "step": step, "seconds": clock.seconds()}, force=last)
    return step


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
def encode_frames(vae, data):
    """Every frame's posterior mean and std, each [N, 4, h, w]."""
    means, stds = [], []
    for i in range(0, data.count, 64):
        m, lv = vae.encode(data.images(np.arange(i, min(i + 64, data.count))))
        means.append(m)
        stds.append(torch.exp(0.5 * lv))
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def rescale_vae(vae, data, work):
    """Scale the posterior so that the runtime's latent scale · z has unit spread (the scale is the VAE config's
    scaling_factor, the runtime multiplies latents by it); return every frame's scaled mean and std."""
    path = os.path.join(work, "latents.pt")
    if os.path.exists(path):
        saved = torch.load(path, map_location=data.device)
        vae.load_state_dict(saved["vae"])
        return saved["mean"], saved["std"]
    mean, std = encode_frames(vae, data)
    a = 1.0 / (latent_scale(vae.config) * mean.std().item())
    z = vae.quant_conv.out_channels // 2
    # quant_conv's mean rows scale by a (log-variance rows shift by 2·ln a); post_quant_conv undoes it.
    vae.quant_conv.weight[:z] *= a
    vae.quant_conv.bias[:z] *= a
    vae.quant_conv.bias[z:] += 2 * math.log(a)
    vae.post_quant_conv.weight /= a
    mean, std = mean * a, std * a
    torch.save({"vae": vae.state_dict(), "mean": mean, "std": std, "scale": a}, path)
    return mean, std
