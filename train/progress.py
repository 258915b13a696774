"""What the training stages share: the exported data, checkpoints, random states, the learning-rate schedule
and progress lines."""
import json
import math
import os
import sys
import time

import numpy as np
import torch

SEED = 20231001
# The export this program reads: src/world/trainingData.ts's TRAINING_DATA_VERSION.
DATA_VERSION = 2


def refuse(message):
    """Bad input: the message on stderr and exit code 2, before any training."""
    print(f"train:world: {message}", file=sys.stderr)
    sys.exit(2)


class WorldData:
    """The exported training set: frames, caption ids per variant, vehicle tokens, vehicle coverage."""

    def __init__(self, folder):
        with open(os.path.join(folder, "meta.json")) as f:
            self.meta = m = json.load(f)
        if m.get("version") != DATA_VERSION:
            refuse(f"{folder}/meta.json: export version {m.get('version')}, this program reads {DATA_VERSION}; "
                   f"delete {folder} and run again (the checkpoints beside it stay valid)")
        n, s, v, t = m["frames"], m["size"], m["variants"], m["tokens"]
        load = lambda name, dtype, shape: np.memmap(os.path.join(folder, name), dtype=dtype, mode="r", shape=shape)
        self.frames = load("frames.u8", np.uint8, (n, s, s, 3))
        self.ids = load("ids.i32", "<i4", (n, v, t))
        self.object_tokens = load("objectTokens.u8", np.uint8, (n, v, t))
        self.vehicle = load("vehicle.u8", np.uint8, (n, s // 8, s // 8))
        self.empty_ids = torch.tensor(m["emptyIds"], dtype=torch.int64)
        self.count = n

    def caption_ids(self, idx, variants):  # → [B, 77] int64: caption variant variants[b] of frame idx[b]
        return torch.from_numpy(np.stack([self.ids[i, v] for i, v in zip(idx, variants)]).astype(np.int64))

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
