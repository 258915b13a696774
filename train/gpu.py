"""The world model's training on a lent GPU machine, in one call of the library's `device` tool.

  here:   npm run train:world -- --pack-gpu            exports the training set and the gpu plan's skeleton
                                                      (a wider VAE) into .train/world-gpu/ if needed, then
                                                      packs them (python3 train/gpu.py pack) into .gpu-train/
  there:  python3 train/gpu.py run                    the device tool's run, with carry [".gpu-train"]:
                                                      unpacks, trains plan "gpu" on CUDA, writes the
                                                      weights and the log to $OUT (flat files)
  here:   python3 train/gpu.py adopt DIR              DIR = the folder the device tool brought $OUT back to:
                                                      models/world/ and its probe from those files and
                                                      the skeleton in .train/world-gpu/

The GPU machine has PyTorch but no Node and no registry, and its files come back flat (at most 8, 16 MiB
each), so the skeleton travels with zero weights (it is read for names and shapes only; zeros pack into
nothing) and the diffusers folder is put together again here from the local skeleton.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from progress import refuse  # noqa: E402
from safetensors_io import read_safetensors, tensor_shapes, write_safetensors  # noqa: E402
from train_world import BASE_FILES, PLANS, POSITION_IDS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK = os.path.join(ROOT, ".gpu-train")
ARCHIVE = "work.tar.xz"
# The folder's weight files and the flat names they travel under (text_encoder.safetensors, …).
WEIGHTS = {f: f.split("/")[0] + ".safetensors" for f in BASE_FILES}
RETURNED = [*WEIGHTS.values(), "model_index.json", "probe.safetensors", "train.log"]


def pack(work, pack_dir):
    """The training set and a zero-weight copy of the skeleton, as one xz tar in pack_dir."""
    for need in ("data/meta.json", "skeleton/model_index.json"):
        if not os.path.isfile(os.path.join(work, need)):
            refuse(f"{work}: no {need} (npm run train:world -- --pack-gpu exports it first)")
    os.makedirs(pack_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as stage:
        skeleton = os.path.join(stage, "skeleton")
        shutil.copytree(os.path.join(work, "skeleton"), skeleton)
        for f in WEIGHTS:
            tensors = read_safetensors(os.path.join(skeleton, f))
            write_safetensors(os.path.join(skeleton, f), {k: v if k == POSITION_IDS else v.zero_() for k, v in tensors.items()})
        tmp = os.path.join(pack_dir, ARCHIVE + ".tmp")
        with tarfile.open(tmp, "w:xz", preset=6) as tar:
            tar.add(os.path.join(work, "data"), arcname="data")
            tar.add(skeleton, arcname="skeleton")
        os.replace(tmp, os.path.join(pack_dir, ARCHIVE))
    size = os.path.getsize(os.path.join(pack_dir, ARCHIVE))
    carry = os.path.relpath(pack_dir, ROOT)
    print(f"packed {work} into {os.path.join(pack_dir, ARCHIVE)} ({size / 2**20:.1f} MiB); on the GPU machine, "
          f"with carry [\"{carry}\"]: python3 train/gpu.py run" + ("" if pack_dir == PACK else f" --pack {carry}"), flush=True)


def run(pack_dir, out, plan, device):
    """Unpack, train, and put the weights, the folder's index, the probe and the log into out as flat files."""
    archive = os.path.join(pack_dir, ARCHIVE)
    if not os.path.isfile(archive):
        refuse(f"{archive}: missing (npm run train:world -- --pack-gpu makes it; the device tool's carry brings it)")
    if not out:
        refuse("--out (or $OUT, which the device tool sets): where the results go")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="world-train-") as work:
        train(archive, work, out, plan, device)
    print(f"wrote {', '.join(RETURNED)} to {out}", flush=True)


def train(archive, work, out, plan, device):
    """Unpack the archive into work and train there; the log goes to out as it is written."""
    with tarfile.open(archive, "r:xz") as tar:
        # The archive is our own, but extract as plain data files all the same (no links, nothing outside).
        tar.extractall(work, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    model = os.path.join(work, "model")
    command = [sys.executable, "-u", os.path.join(ROOT, "train", "train_world.py"), "--work", work, "--out", model, "--plan", plan, "--device", device]
    with open(os.path.join(out, "train.log"), "w") as log:
        trainer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in trainer.stdout:
            sys.stdout.write(line)
            log.write(line)
            log.flush()
        if trainer.wait() != 0:
            sys.exit(trainer.returncode)
    for inside, flat in WEIGHTS.items():
        shutil.copyfile(os.path.join(model, inside), os.path.join(out, flat))
    shutil.copyfile(os.path.join(model, "model_index.json"), os.path.join(out, "model_index.json"))
    shutil.copyfile(model + "-probe.safetensors", os.path.join(out, "probe.safetensors"))


def adopt(returned, skeleton, dest):
    """The diffusers folder dest (and dest-probe.safetensors) from the local skeleton and the returned files."""
    for f in RETURNED:
        if not os.path.isfile(os.path.join(returned, f)):
            refuse(f"{returned}: no {f} (the files train/gpu.py run writes to $OUT)")
    if not os.path.isfile(os.path.join(skeleton, "model_index.json")):
        refuse(f"{skeleton}: no model_index.json (npm run train:world -- --pack-gpu exports the skeleton)")
    for inside, flat in WEIGHTS.items():
        if tensor_shapes(os.path.join(skeleton, inside)) != tensor_shapes(os.path.join(returned, flat)):
            refuse(f"{returned}/{flat}: its tensors differ from {skeleton}/{inside} (another architecture?)")
    with open(os.path.join(returned, "model_index.json")) as f:
        report = json.load(f).get("_fatezero", {})
    tmp = dest.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(skeleton, tmp)
    for inside, flat in WEIGHTS.items():
        shutil.copyfile(os.path.join(returned, flat), os.path.join(tmp, inside))
    shutil.copyfile(os.path.join(returned, "model_index.json"), os.path.join(tmp, "model_index.json"))
    shutil.copyfile(os.path.join(returned, "probe.safetensors"), dest.rstrip("/") + "-probe.safetensors")
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    print(f"{dest}: the model trained on the GPU ({report.get('plan')} plan: VAE {report.get('vaeSteps')} steps, "
          f"denoiser {report.get('denoiserSteps')} steps); check it with npx fatezero world-bench --seed 1000 --clips 8 --json", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="here: the training set and skeleton into --pack")
    p.add_argument("--work", default=os.path.join(ROOT, ".train", "world-gpu"))
    p.add_argument("--pack", default=PACK)
    r = sub.add_parser("run", help="on the GPU machine: unpack, train, results into --out")
    r.add_argument("--pack", default=PACK)
    r.add_argument("--out", default=os.environ.get("OUT"))
    r.add_argument("--plan", choices=sorted(PLANS), default="gpu")
    r.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    a = sub.add_parser("adopt", help="here: models/world/ from the returned files")
    a.add_argument("returned")
    a.add_argument("--skeleton", default=os.path.join(ROOT, ".train", "world-gpu", "skeleton"))
    a.add_argument("--dest", default=os.path.join(ROOT, "models", "world"))
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.work, args.pack)
    elif args.command == "run":
        run(args.pack, args.out, args.plan, args.device)
    else:
        adopt(args.returned, args.skeleton, args.dest)


if __name__ == "__main__":
    main()
