"""What this machine's PyTorch can do, measured before training: the fp32 GEMM rate (a slow BLAS is refused),
whether bf16 autocast runs on the CPU's matrix units, and the CPU time a run has used.

A 1024² fp32 matmul runs at ~6 GFLOP/s on Debian's reference BLAS and at 85–200 on OpenBLAS or MKL (2 cores);
the world model's training is 80 % GEMMs, so the reference BLAS makes it ~7× slower (../docs/world-model.md).
"""
import contextlib
import os
import resource
import time

import torch

from progress import refuse

# Below this (GFLOP per CPU-second, one thread) the BLAS under PyTorch is the reference one (3.6-6.9 measured;
# OpenBLAS 85-106, MKL ~100+). FATEZERO_TRAIN_MIN_GFLOPS sets another floor (0: train on any BLAS).
MIN_FP32_GFLOPS = 30.0


def gemm_gflops(dtype=torch.float32, n=1024, seconds=0.3):
    """GFLOP per CPU-second of an n×n matmul in `dtype` on one thread, best of the repeats that fit in `seconds`.
    CPU time, not wall time: on a busy machine a fast BLAS loses wall time to other processes, never CPU time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        a @ b
        best, spent = float("inf"), 0.0
        while spent < seconds:
            t = time.process_time()
            a @ b
            dt = time.process_time() - t
            if dt > 0:
                best = min(best, dt)
            spent += max(dt, 1e-3)
    finally:
        torch.set_num_threads(threads)
    return 2 * n**3 / best / 1e9


def cpu_has_bf16_units():
    """Whether the CPU multiplies bf16 in hardware (AMX tiles or AVX-512 BF16), as Linux reports it."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def check_machine(device):
    """Measure the GEMM rates and refuse a slow BLAS (exit 2, naming the fix); returns the rates for the report."""
    if device != "cpu":
        return {"device": device}
    fp32 = gemm_gflops(torch.float32)
    rates = {"threads": torch.get_num_threads(), "fp32Gflops": round(fp32, 1), "ompWaitPolicy": os.environ.get("OMP_WAIT_POLICY", "")}
    if cpu_has_bf16_units():
        rates["bf16Gflops"] = round(gemm_gflops(torch.bfloat16), 1)
    print(f"machine: {rates['threads']} threads, fp32 matmul {fp32:.0f} GFLOP/s per core"
          + (f", bf16 {rates['bf16Gflops']:.0f} GFLOP/s" if "bf16Gflops" in rates else ", no bf16 matrix units"), flush=True)
    floor = float(os.environ.get("FATEZERO_TRAIN_MIN_GFLOPS", MIN_FP32_GFLOPS))
    if fp32 < floor:
        refuse(f"PyTorch multiplies fp32 matrices at {fp32:.1f} GFLOP/s per core here, below {floor:g} (a fast BLAS does 85+): a reference "
               f"BLAS makes training ~7x slower. Use the project's environment (bash python/setup.sh; train:world picks .venv/bin/python), "
               f"or on Debian: apt install libopenblas0-pthread. FATEZERO_TRAIN_MIN_GFLOPS=0 trains anyway.")
    return rates


def resolve_precision(precision):
    """'auto' is fp32: on this model bf16 autocast was measured slower per step than fp32 with PyTorch 2.13 (its
    bf16 convolution backward and the casts cost more than the faster GEMMs save; docs/world-model.md)."""
    return "fp32" if precision == "auto" else precision


def autocast(precision, device):
    """The forward passes' context: bf16 autocast (matmuls and convolutions on the matrix units; PyTorch's CPU
    autocast keeps group_norm, layer_norm, softmax and the losses in fp32) or nothing."""
    if precision == "bf16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_seconds():
    """CPU seconds this process has used (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
