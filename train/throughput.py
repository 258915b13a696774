"""Training throughput of the world model's denoiser stage on this machine: ms per sample of one optimizer step
(text encoder + UNet forward and backward, attention term, AdamW), per precision and batch size.

  python3 train/throughput.py [--work .train/world] [--batch 16 64] [--precision fp32 bf16] [--steps 3]

Prints one JSON line per configuration (wall and process-CPU ms per sample); the machine's GEMM rates first.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from denoiser import attention_layers, attention_loss  # noqa: E402
from machine import autocast, check_machine, cpu_seconds  # noqa: E402
from model_folder import ModelFolder  # noqa: E402
from world_model import ClipTextModel, UNet2DConditionModel  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default=".train/world", help="an export (fatezero world-training-data): its skeleton's configs give the sizes, "
                        "its data/meta.json the supervised attention layers")
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up (the best is reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rates = check_machine("cpu")
    print(json.dumps({"torch": torch.__version__, **rates}), flush=True)
    folder = ModelFolder(os.path.join(args.work, "skeleton"))
    config = folder.configs
    with open(os.path.join(args.work, "data", "meta.json")) as f:
        supervised = json.load(f)["attentionLayers"]
    for precision in args.precision:
        for B in args.batch:
            torch.manual_seed(0)
            text, unet = ClipTextModel(config["text_encoder"]), UNet2DConditionModel(config["unet"])
            unet = unet.to(memory_format=torch.channels_last)
            params = list(unet.parameters()) + list(text.parameters())
            opt = torch.optim.AdamW(params, lr=1e-4)
            s = config["unet"]["sample_size"]
            layers = attention_layers(unet, supervised)
            x = torch.randn(B, 4, s, s).contiguous(memory_format=torch.channels_last)  # [B, 4, h, w]
            ids = torch.randint(0, config["text_encoder"]["vocab_size"], (B, 77))  # [B, 77]
            t = torch.randint(0, len(folder.alphas_cumprod), (B,))
            objects, coverage = torch.zeros(B, 77), torch.rand(B, s, s)
            objects[:, 3] = 1
            best = None
            for step in range(args.steps + 1):
                wall, cpu = time.perf_counter(), cpu_seconds()
                with autocast(precision, "cpu"):
                    pred = unet(x, t, text(ids))
                    loss = F.mse_loss(pred.float(), x) + 0.1 * attention_loss(layers, objects, coverage)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                took = (time.perf_counter() - wall, cpu_seconds() - cpu)
                if step > 0 and (best is None or took[0] < best[0]):
                    best = took
            print(json.dumps({"precision": precision, "batch": B, "threads": args.threads, "msPerSampleWall": round(1000 * best[0] / B, 1),
                              "msPerSampleCpu": round(1000 * best[1] / B, 1), "samplesPerSecond": round(B / best[0], 1)}), flush=True)


if __name__ == "__main__":
    main()
