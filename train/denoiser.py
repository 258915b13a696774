"""The denoiser's stage: the text encoder and UNet trained together on the VAE's latents."""
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from machine import autocast
from progress import SEED, Checkpoint, StageClock, refuse, rng_state, set_rng_state


def attention_layers(unet, supervised):
    """The cross-attention modules named in `supervised` (the export's meta.json "attentionLayers": module path,
    height, width), in forward order, with the latent size of each; they keep their probabilities."""
    sizes = {layer["module"]: layer["height"] for layer in supervised}
    missing = sorted(set(sizes) - {name for name, _ in unet.cross_attentions()})
    if missing:
        refuse(f"the export's attentionLayers name cross-attention layers the UNet lacks: {', '.join(missing)}")
    out = []
    for name, m in unet.cross_attentions():
        if name in sizes:
            m.keep_probs = True
            out.append((m, sizes[name]))
    return out


def attention_loss(layers, object_tokens, coverage):
    """1 − the share of the vehicle words' attention that falls on the vehicle, over layers and captions."""
    keep = object_tokens.sum(-1) > 0  # [B] captions that name a vehicle (not dropped)
    if not keep.any():
        return torch.zeros((), device=coverage.device)
    losses = []
    for m, size in layers:
        cov = coverage if size == coverage.shape[-1] else F.avg_pool2d(coverage[:, None], coverage.shape[-1] // size)[:, 0]
        mass = (m.probs.mean(1) * object_tokens[:, None, :]).sum(-1)  # [B, L] attention on the vehicle words
        inside = (mass * cov.flatten(1)).sum(-1) / (mass.sum(-1) + 1e-8)
        losses.append((1 - inside)[keep].mean())
    return torch.stack(losses).mean()


def noise_weights(ac, t_min, max_weight):
    """Per-timestep ε-error weights: 1/SNR clipped to 1…max_weight, averaging 1 over t ≥ t_min. A vehicle's
    colour and a scene's setting are decided at high noise, where the plain ε error is small (SNR < 1)."""
    w = ((1 - ac) / ac).clamp(1, max_weight)  # [T]
    return w / w[t_min:].mean()


def min_snr_weights(ac, gamma):
    """Min-SNR-γ weights of the ε error (Hang et al. 2023): min(SNR, γ)/SNR, averaging 1 over all timesteps. Low-noise
    steps, whose ε error is large but easy, no longer crowd out the steps where layout and colour are decided."""
    snr = ac / (1 - ac)  # [T]
    w = snr.clamp(max=gamma) / snr
    return w / w.mean()


def train_denoiser(unet, text, latents, data, train_idx, plan, work, folder, layers, stage="denoiser", precision="fp32"):
    """ε-prediction on the latents with captions (dropped for classifier-free guidance) and the attention term on
    `layers` (attention_layers), with `folder`'s (model_folder.ModelFolder) noise schedule and latent scale.
    Stage "denoiser" trains from scratch, stage "refine" continues from there with its own checkpoint, random
    stream and schedule. A stage's plan keys (prefix "unet" or "refine") may restrict it to t ≥ `_t_min`,
    weight the ε error per timestep by noise_weights up to `_max_weight`, and weight the vehicle's latent pixels
    `_vehicle_weight` times (the vehicle covers a few of them, so its colour is otherwise a tiny share of the
    error), or weight it by Min-SNR-γ (`_min_snr_gamma`). `precision` "bf16" runs the forward passes under
    bf16 autocast. Returns the smoothed final losses and the stage's summary (steps, samples, minutes, samples/s)."""
    refine = stage == "refine"
    key = "refine" if refine else "unet"
    dev = data.device
    ck = Checkpoint(os.path.join(work, f"{stage}.pt"), plan["checkpoint_seconds"])
    params = list(unet.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=plan[f"{key}_lr"], weight_decay=0.01)
    ema = [p.detach().clone() for p in params]
    seed = SEED + (4 if refine else 1)
    gen = torch.Generator().manual_seed(seed)
    np.random.seed(seed)
    step, seconds, state = 0, 0.0, ck.load(dev)
    if state:
        unet.load_state_dict(state["unet"])
        text.load_state_dict(state["text"])
        opt.load_state_dict(state["opt"])
        ema = state["ema"]
        set_rng_state(gen, state["rng"])
        step, seconds = state["step"], state.get("seconds", 0.0)
    mean, std = latents
    ac = folder.alphas_cumprod.to(dev)  # [T]
    t_min, max_weight, vehicle_weight = plan.get(f"{key}_t_min", 0), plan.get(f"{key}_max_weight"), plan.get(f"{key}_vehicle_weight")
    gamma = plan.get(f"{key}_min_snr_gamma")
    weights = min_snr_weights(ac, gamma) if gamma else noise_weights(ac, t_min, max_weight) if max_weight else None  # [T]
    B = plan.get(f"{key}_batch", plan["unet_batch"])
    clock = StageClock(plan[f"{key}_steps"], plan[f"{key}_warmup"], plan.get(f"{key}_minutes"), step, seconds, B)
    smooth, ema_max = {}, plan[f"{key}_ema"]
    while not clock.done(step):
        for g in opt.param_groups:
            g["lr"] = clock.lr(step, plan[f"{key}_lr"])
        idx = np.sort(np.random.choice(train_idx, B, replace=False))
        variant = np.random.randint(0, data.meta["variants"], size=B)
        ids = data.caption_ids(idx, variant)
        objects = data.object_tokens_of(idx, variant)
        drop = (torch.rand(B, generator=gen) < plan["caption_dropout"]).to(dev)
        ids[drop] = data.empty_ids
        objects[drop] = 0
        coverage = data.coverage(idx)  # [B, h, w]
        on = torch.as_tensor(idx, device=dev)
        m, s = mean[on], std[on]  # [B, 4, h, w]
        z0 = folder.latent_scale * (m + s * torch.randn(m.shape, generator=gen).to(dev))
        t = torch.randint(t_min, len(ac), (B,), generator=gen).to(dev)
        noise = torch.randn(z0.shape, generator=gen).to(dev)
        a = ac[t][:, None, None, None]
        zt = (a.sqrt() * z0 + (1 - a).sqrt() * noise).contiguous(memory_format=torch.channels_last)
        with autocast(precision, dev.type):
            pred = unet(zt, t, text(ids)).float()
        if weights is None and vehicle_weight is None:
            mse = F.mse_loss(pred, noise)
        else:
            err = (pred - noise).pow(2)  # [B, 4, h, w]
            if vehicle_weight is not None:
                pixel = 1 + (vehicle_weight - 1) * coverage[:, None]  # [B, 1, h, w]
                err = err * pixel / pixel.mean((2, 3), keepdim=True)
            per_sample = err.mean((1, 2, 3))  # [B]
            mse = (per_sample * weights[t]).mean() if weights is not None else per_sample.mean()
        attn = attention_loss(layers, objects, coverage)
        loss = mse + plan["attention_weight"] * attn
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(ema_max, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        for k, v in (("weighted_mse" if weights is not None or vehicle_weight is not None else "mse", mse.item()), ("attention", attn.item())):
            smooth[k] = v if k not in smooth else 0.98 * smooth[k] + 0.02 * v
        last = clock.done(step)
        if step % 25 == 0 or last:
            clock.log(stage, step, **smooth)
        ck.save({"unet": unet.state_dict(), "text": text.state_dict(), "opt": opt.state_dict(), "ema": ema, "rng": rng_state(gen), "step": step,
                 "seconds": clock.seconds()}, force=last)
    with torch.no_grad():
        for e, p in zip(ema, params):
            p.copy_(e)
    return smooth, clock.summary(step)


@torch.no_grad()
def caption_gain(text, unet, latents, data, idx, folder):
    """How much held-out ε error the caption saves: 1 − error(own caption) / error(another frame's caption),
    on the vehicle's latent pixels and on the whole frame, at t = 300, 500, 700 with fixed noise."""
    dev = data.device
    gen = torch.Generator().manual_seed(SEED + 2)
    idx = idx[:: max(1, len(idx) // 64)]
    mean, _ = latents
    z0 = folder.latent_scale * mean[torch.as_tensor(idx, device=dev)]  # [B, 4, h, w]
    cover = data.coverage(idx)[:, None]  # [B, 1, h, w]
    own = data.caption_ids(idx, [0] * len(idx))  # [B, 77]
    other = own.roll(len(idx) // 2, 0)  # frames half the set away: other clips
    ac = folder.alphas_cumprod.to(dev)  # [T]
    err = {"own": torch.zeros(2, device=dev), "other": torch.zeros(2, device=dev)}
    for t in (300, 500, 700):
        noise = torch.randn(z0.shape, generator=gen).to(dev)
        zt = ac[t].sqrt() * z0 + (1 - ac[t]).sqrt() * noise
        for name, ids in (("own", own), ("other", other)):
            e = (unet(zt, torch.full((len(idx),), t, device=dev), text(ids)) - noise).pow(2)
            err[name] += torch.stack([(e * cover).sum() / cover.sum(), e.mean()])
    gain = 1 - err["own"] / err["other"]
    return {"vehicle": round(gain[0].item(), 4), "frame": round(gain[1].item(), 4)}


@torch.no_grad()
def colour_steering(text, unet, vae, latents, data, idx, folder, guidance=7.5):
    """Share of held-out frames whose vehicle, in the one-step prediction of the clean frame from t = 700 and
    900 (classifier-free guidance 7.5), takes the colour its caption is switched to; chance is 1 / colours."""
    colours, dev = data.meta["colours"], data.device
    gen = torch.Generator().manual_seed(SEED + 3)
    idx = idx[:: max(1, len(idx) // 32)]
    mean, _ = latents
    z0 = folder.latent_scale * mean[torch.as_tensor(idx, device=dev)]  # [B, 4, h, w]
    own = data.caption_ids(idx, [0] * len(idx))  # [B, 77]
    named = [next((c for c in colours if c["tokenId"] in row), None) for row in own.tolist()]
    factor = data.frames.shape[1] // mean.shape[-1]
    vehicle = torch.from_numpy(np.ascontiguousarray(data.vehicle[idx])).to(dev) >= 128  # [B, h, w] mostly vehicle
    vehicle = vehicle.repeat_interleave(factor, 1).repeat_interleave(factor, 2)  # [B, H, W]
    palette = torch.tensor([c["rgb"] for c in colours], dtype=torch.float32, device=dev)  # [C, 3]
    empty = text(data.empty_ids[None].repeat(len(idx), 1))
    ac = folder.alphas_cumprod.to(dev)  # [T]
    share = {}
    for t in (700, 900):
        noise = torch.randn(z0.shape, generator=gen).to(dev)
        zt = ac[t].sqrt() * z0 + (1 - ac[t]).sqrt() * noise
        steps = torch.full((len(idx),), t, device=dev)
        uncond = unet(zt, steps, empty)
        hits = tries = 0
        for target, colour in enumerate(colours):
            ids, asked = own.clone(), []
            for b, was in enumerate(named):
                if was is not None and was is not colour and vehicle[b].any():
                    ids[b][ids[b] == was["tokenId"]] = colour["tokenId"]
                    asked.append(b)
            if not asked:
                continue
            eps = uncond + guidance * (unet(zt, steps, text(ids)) - uncond)
            x0 = (zt - (1 - ac[t]).sqrt() * eps) / ac[t].sqrt()
            frames = (vae.decode(x0[asked] / folder.latent_scale).clamp(-1, 1) + 1) * 127.5  # [b, 3, H, W]
            for frame, b in zip(frames, asked):
                body = frame[:, vehicle[b]].median(dim=1).values  # [3]
                hits += int((palette - body).pow(2).sum(-1).argmin().item() == target)
                tries += 1
        share[str(t)] = round(hits / max(tries, 1), 3)
    return share
