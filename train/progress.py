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
DATA_VERSION = 3


def refuse(message):
    """Bad input: the message on stderr and exit code 2, before any training."""
    print(f"train:world: {message}", file=sys.stderr)
    sys.exit(2)


class WorldData:
    """The exported training set: frames, caption ids per variant, vehicle tokens, vehicle coverage, each mapped
    by the file, dtype and shape meta.json's "arrays" gives. Batches come out on `device`; on a GPU the frames
    are copied into its memory once (786 MB for the full export)."""

    def __init__(self, folder, device="cpu"):
        with open(os.path.join(folder, "meta.json")) as f:
            self.meta = m = json.load(f)
        if m.get("version") != DATA_VERSION:
            refuse(f"{folder}/meta.json: export version {m.get('version')}, this program reads {DATA_VERSION}; "
                   f"delete {folder} and run again (the checkpoints beside it stay valid)")
        self.frames = array(folder, m["arrays"]["frames"])  # [N, S, S, 3] uint8
        self.ids = array(folder, m["arrays"]["ids"])  # [N, variants, 77] int32
        self.object_tokens = array(folder, m["arrays"]["objectTokens"])  # [N, variants, 77] uint8
        self.vehicle = array(folder, m["arrays"]["vehicle"])  # [N, h, w] uint8
        self.device = torch.device(device)
        self.empty_ids = torch.tensor(m["emptyIds"], dtype=torch.int64, device=self.device)
        self.count = len(self.frames)
        self.resident = torch.from_numpy(np.array(self.frames)).to(self.device) if self.device.type != "cpu" else None  # [N, S, S, 3] uint8

    def caption_ids(self, idx, variants):  # → [B, 77] int64: caption variant variants[b] of frame idx[b]
        return torch.from_numpy(np.stack([self.ids[i, v] for i, v in zip(idx, variants)]).astype(np.int64)).to(self.device)

    def object_tokens_of(self, idx, variants):  # → [B, 77] float: 1 where the caption names the vehicle
        return torch.from_numpy(np.stack([self.object_tokens[i, v] for i, v in zip(idx, variants)]).astype(np.float32)).to(self.device)

    def coverage(self, idx):  # → [B, h, w] in [0, 1]: the share of each latent pixel the vehicle covers
        return torch.from_numpy(np.ascontiguousarray(self.vehicle[idx])).float().to(self.device) / 255

    def images(self, idx):  # → [B, 3, S, S] in [-1, 1]
        if self.resident is not None:
            x = self.resident[torch.as_tensor(idx, device=self.device)].float()
        else:
            x = torch.from_numpy(np.ascontiguousarray(self.frames[idx])).float()
        return (x / 127.5 - 1).permute(0, 3, 1, 2)


def array(folder, a):
    """One exported array, memory-mapped: meta.json's {file, dtype (little-endian), shape}; a file of another size is refused."""
    path, dtype = os.path.join(folder, a["file"]), np.dtype(a["dtype"]).newbyteorder("<")
    want = dtype.itemsize * math.prod(a["shape"])
    if os.path.getsize(path) != want:
        refuse(f"{path}: {os.path.getsize(path)} bytes, but meta.json's {a['dtype']} {a['shape']} is {want}; delete {folder} and run again")
    return np.memmap(path, dtype=dtype, mode="r", shape=tuple(a["shape"]))


class StageClock:
    """How far a stage has come: `total` steps, or, for a plan with a time budget (a lent GPU machine, whose
    speed is not known in advance), `minutes` of training if those run out first. The learning-rate schedule
    follows this progress, so a stage cut short by its budget still decays fully."""

    def __init__(self, total, warmup, minutes, step, seconds_before, batch):
        self.total, self.warmup, self.minutes, self.batch = total, warmup, minutes, batch
        self.resumed, self.started, self.before = step, time.time(), seconds_before

    def seconds(self):
        """Training seconds of this stage, across resumed runs."""
        return self.before + time.time() - self.started

    def progress(self, step):
        """The share of the stage after warm-up that is done, 0…1."""
        p = (step - self.warmup) / max(1, self.total - self.warmup)
        if self.minutes is not None:
            p = max(p, self.seconds() / (60 * self.minutes))
        return p

    def done(self, step):
        """Whether the stage is over: its steps or its time budget used up."""
        return step >= self.total or (self.minutes is not None and self.seconds() >= 60 * self.minutes)

    def lr(self, step, peak):
        """Linear warm-up, then cosine decay to a tenth of the peak."""
        if step < self.warmup:
            return peak * (step + 1) / self.warmup
        return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, self.progress(step)))))

    def samples_per_second(self, step):
        """Training samples per second since this run (re)started."""
        return self.batch * (step - self.resumed) / max(time.time() - self.started, 1e-9)

    def log(self, stage, step, **values):
        """A progress line; the time left is extrapolated from the steps done since this run (re)started."""
        elapsed = time.time() - self.started
        eta = elapsed / max(step - self.resumed, 1) * (self.total - step)
        if self.minutes is not None:
            eta = min(eta, max(0.0, 60 * self.minutes - self.seconds()))
        parts = " ".join(f"{k} {v:.4f}" for k, v in values.items())
        print(f"{stage:8s} {step}/{self.total} {parts} {self.samples_per_second(step):.1f} samples/s, elapsed {elapsed / 60:.1f} min, "
              f"eta {eta / 60:.1f} min", flush=True)

    def summary(self, step):
        """What the report records of a stage: steps, samples seen, training minutes and samples/s (this run)."""
        return {"steps": step, "samples": step * self.batch, "minutes": round(self.seconds() / 60, 1),
                "samplesPerSecond": round(self.samples_per_second(step), 1)}


class Checkpoint:
    """A stage's state in one file, written atomically every `seconds` and at the end."""

    def __init__(self, path, seconds):
        self.path, self.seconds, self.last = path, seconds, time.time()

    def load(self, device):
        # The file holds NumPy's random state next to the tensors, so it is not a weights-only file.
        return torch.load(self.path, map_location=device, weights_only=False) if os.path.exists(self.path) else None

    def save(self, state, force=False):
        if not force and time.time() - self.last < self.seconds:
            return
        torch.save(state, self.path + ".tmp")
        os.replace(self.path + ".tmp", self.path)
        self.last = time.time()


def rng_state(gen):
    return {"torch": gen.get_state(), "numpy": np.random.get_state()}


def set_rng_state(gen, s):
    gen.set_state(s["torch"].cpu())  # a checkpoint loaded onto a GPU brings this CPU generator's state along
    np.random.set_state(s["numpy"])
