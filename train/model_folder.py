"""What the runtime reads from a diffusers model folder and the training must agree with, read from the same
files: the noise schedule (scheduler/scheduler_config.json, as src/scheduler/ddim.ts reads it), the latent
scale and the VAE's factor (vae/config.json, as src/networks/configs.ts reads it)."""
import json
import math
import os

import torch

from progress import refuse

# diffusers' values where a config leaves a key out (src/scheduler/ddim.ts, src/networks/configs.ts).
SCHEDULER_DEFAULTS = {"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "linear", "trained_betas": None}
DEFAULT_LATENT_SCALE = 0.18215


def read_config(folder, part):
    """A part's config: scheduler/scheduler_config.json for "scheduler", else <part>/config.json."""
    name = "scheduler_config.json" if part == "scheduler" else "config.json"
    with open(os.path.join(folder, part, name)) as f:
        return json.load(f)


def betas(scheduler):
    """The scheduler config's β per training timestep, [T] float64: the runtime's schedules, computed in double
    (the runtime rounds them to float32, which moves alphas_cumprod by about an ulp)."""
    c = {**SCHEDULER_DEFAULTS, **{k: v for k, v in scheduler.items() if v is not None}}
    T = c["num_train_timesteps"]
    if c["trained_betas"] is not None:
        return torch.tensor(c["trained_betas"], dtype=torch.float64)
    if c["beta_schedule"] == "linear":
        return torch.linspace(c["beta_start"], c["beta_end"], T, dtype=torch.float64)
    if c["beta_schedule"] == "scaled_linear":
        return torch.linspace(c["beta_start"] ** 0.5, c["beta_end"] ** 0.5, T, dtype=torch.float64) ** 2
    if c["beta_schedule"] == "squaredcos_cap_v2":
        alpha_bar = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.tensor([min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), 0.999) for i in range(T)], dtype=torch.float64)
    refuse(f"scheduler config: beta_schedule {c['beta_schedule']!r} is not one of linear, scaled_linear, squaredcos_cap_v2")


def alphas_cumprod(scheduler):
    """The product of (1 − β) up to each training timestep, [T] float32."""
    return torch.cumprod(1 - betas(scheduler), 0).float()


def latent_scale(vae):
    """The factor the runtime multiplies the VAE's latents by (diffusers' scaling_factor)."""
    return vae.get("scaling_factor", DEFAULT_LATENT_SCALE)


def vae_factor(vae):
    """Image pixels per latent pixel along each side: the VAE halves the image once per level but the last."""
    return 2 ** (len(vae["block_out_channels"]) - 1)


class ModelFolder:
    """A model folder's configs (text_encoder, unet, vae, scheduler) and the facts above, read once."""

    def __init__(self, folder):
        self.configs = {part: read_config(folder, part) for part in ("text_encoder", "unet", "vae", "scheduler")}
        self.alphas_cumprod = alphas_cumprod(self.configs["scheduler"])  # [T]
        self.latent_scale = latent_scale(self.configs["vae"])
        self.vae_factor = vae_factor(self.configs["vae"])
