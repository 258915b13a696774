"""The VAE pilot: the world model's VAE at its downsampling factor 8 against the same VAE at factor 4 (one down
block fewer, latents 32² for 128² frames), each trained from scratch by the full plan's VAE stage for the same
number of steps (a step budget, not a time budget, so that a busy machine treats both alike), then scored on the held-out frames and timed on the runtime's work (encode + decode per frame).

  .venv/bin/python train/vae_pilot.py --work .train/world-v2 --pilot .train/vae-pilot [--steps 800] [--threads 1]

Each variant's checkpoint lives in --pilot/<variant>/vae.pt, so a stopped pilot resumes; its result is a JSON
line per variant on stdout and in --pilot/report.jsonl.
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autoencoder import train_vae, vae_psnr  # noqa: E402
from machine import check_machine  # noqa: E402
from model_folder import vae_factor  # noqa: E402
from progress import SEED, WorldData  # noqa: E402
from train_world import PLANS  # noqa: E402
from world_model import AutoencoderKL  # noqa: E402


def fewer_blocks(config):
    """The same VAE with its last (deepest) block removed: half the downsampling factor."""
    c = copy.deepcopy(config)
    for key in ("block_out_channels", "down_block_types", "up_block_types"):
        c[key] = c[key][:-1]
    return c


@torch.no_grad()
def runtime_cost(vae, size, frames=8, repeats=3):
    """Milliseconds per frame of encode + decode at the runtime's frame size (best of `repeats`)."""
    x = torch.zeros(frames, 3, size, size)
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        vae.decode(vae.encode(x)[0])
        best = min(best, time.process_time() - started)
    return 1000 * best / frames


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="a training folder with data/ and skeleton/ (from fatezero world-training-data)")
    parser.add_argument("--pilot", required=True, help="where the pilot's checkpoints and report go")
    parser.add_argument("--steps", type=int, default=800, help="training steps of each variant (batches of the full plan's size)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variant", choices=("f8", "f4"), action="append", help="train only these (default both)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = check_machine("cpu")
    with open(os.path.join(args.work, "skeleton", "vae", "config.json")) as f:
        committed = json.load(f)
    data = WorldData(os.path.join(args.work, "data"))
    full = PLANS["full"]
    clips, frames_per_clip = data.meta["clips"], data.count // data.meta["clips"]
    held_out = int(clips * full["validation_share"])
    train_idx = np.arange((clips - held_out) * frames_per_clip)
    val_idx = np.arange((clips - held_out) * frames_per_clip, data.count)
    plan = {**full, "vae_steps": args.steps}
    os.makedirs(args.pilot, exist_ok=True)
    for config in (committed, fewer_blocks(committed)):
        name = f"f{vae_factor(config)}"
        if args.variant and name not in args.variant:
            continue
        work = os.path.join(args.pilot, name)
        os.makedirs(work, exist_ok=True)
        torch.manual_seed(SEED)
        vae = AutoencoderKL(config)
        steps = train_vae(vae, data, train_idx, plan, work)
        vae.eval()
        row = {
            "variant": name,
            "blocks": config["block_out_channels"],
            "parameters": sum(p.numel() for p in vae.parameters()),
            "latent": [config["latent_channels"], data.meta["size"] // vae_factor(config), data.meta["size"] // vae_factor(config)],
            "steps": steps,
            "samples": steps * plan["vae_batch"],
            "heldOutFrames": len(val_idx),
            "heldOutPsnr": round(vae_psnr(vae, data, val_idx), 2),
            "encodeDecodeCpuMsPerFrame": round(runtime_cost(vae, data.meta["size"]), 1),
            "threads": args.threads,
            "machine": machine,
        }
        print(json.dumps(row), flush=True)
        with open(os.path.join(args.pilot, "report.jsonl"), "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
