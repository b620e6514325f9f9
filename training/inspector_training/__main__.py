"""`python3 -m inspector_training COMMAND …` — the trainer behind `inspector train` and
`inspector pretrain-teacher`. Errors a user can fix come out as one message, not a traceback."""
from __future__ import annotations

import argparse
import sys

from .devices import DEVICES
from .errors import UserError
from .progress import emit


def scales(text: str) -> list[int]:
    from .networks import PATCH_SIZES
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give patch sizes as a comma-separated list, e.g. 17,33,65")
    bad = [v for v in values if v not in PATCH_SIZES]
    if bad or not values:
        raise argparse.ArgumentTypeError(f"{text!r}: patch sizes must be among {','.join(map(str, PATCH_SIZES))}")
    return values


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number above 0 and at most 1, e.g. 0.1")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: must be above 0 and at most 1")
    return value


class OptionParser(argparse.ArgumentParser):
    """Bad options become a UserError (one line, and a JSON event for `inspector`), not usage text."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError("BAD_OPTION", f"{message} (see --help)")


def parser() -> argparse.ArgumentParser:
    root = OptionParser(prog="python3 -m inspector_training")
    commands = root.add_subparsers(dest="command", required=True)

    pre = commands.add_parser("pretrain-teacher", help="pre-train teachers on natural images")
    pre.add_argument("--images", action="append", help="folder of natural images (searched recursively; repeatable)")
    pre.add_argument("--image-list", help="text file of glob patterns, relative to the file")
    pre.add_argument("--out", required=True, help="folder for teacher_p<P>.pt files and run logs")
    pre.add_argument("--scales", type=scales, default=[17, 33, 65])
    pre.add_argument("--steps", type=positive_int, default=50000, help="total iterations per scale (resumes count)")
    pre.add_argument("--batch", type=positive_int, default=64, help="triplets per step")
    pre.add_argument("--lr", type=float, default=2e-4)
    pre.add_argument("--weight-decay", type=float, default=1e-5)
    pre.add_argument("--margin", type=float, default=1.0)
    pre.add_argument("--lambda-m", type=float, default=1.0)
    pre.add_argument("--lambda-c", type=float, default=1.0)
    pre.add_argument("--lambda-k", type=float, default=1.0)
    pre.add_argument("--distill-from", help="the pretrained network P of the distillation loss Lk: a local ResNet-18 "
                     "state-dict file, or a MobileNetV2 trunk written by convert-mobilenet")
    pre.add_argument("--width", type=float, default=1.0, help="multiplier of the hidden layers' channels")
    pre.add_argument("--descriptor-size", type=positive_int, default=128)
    pre.add_argument("--checkpoint-every", type=positive_int, default=50)
    pre.add_argument("--log-every", type=positive_int, default=10)
    pre.add_argument("--holdout-every", type=int, default=8, help="every N-th photo is held out for quality checks")
    pre.add_argument("--eval-triplets", type=positive_int, default=512)
    pre.add_argument("--max-side", type=positive_int, default=2048, help="photos are downscaled to this side")
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    pre.add_argument("--device", choices=DEVICES, default="auto", help="auto (CUDA when PyTorch sees a GPU), cpu or cuda")
    pre.add_argument("--skip-corrupt", action="store_true", help="skip unreadable images instead of stopping")

    conv = commands.add_parser("convert-mobilenet", help="the ImageNet MobileNetV2 trunk of nsfwjs, for --distill-from")
    conv.add_argument("--tfjs", required=True, help="folder written by `node scripts/nsfwjs-mobilenet.mjs unpack DIR`")
    conv.add_argument("--out", required=True, help="the PyTorch file to write, e.g. /work/distillers/mobilenet_v2.pt")

    train = commands.add_parser("train", help="train students on good images and export a bundle")
    train.add_argument("--good", required=True, help="folder of good images (or an MVTec category folder)")
    train.add_argument("--out", required=True, help="bundle folder to create")
    train.add_argument("--teachers", default="models/teachers", help="folder holding teacher_p<P>.pt")
    # The defaults are the recipe that trains in under 30 minutes on a 2-core CPU for a data set
    # like magnetic tile (584 images; docs/RESULTS.md); the paper's is --scales 17,33,65 --epochs 100
    # --size 256 --mode dense.
    train.add_argument("--scales", type=scales, default=[33])
    train.add_argument("--students", type=positive_int, default=3)
    train.add_argument("--epochs", type=positive_int, default=6)
    train.add_argument("--size", type=positive_int, default=128, help="model input side (images are resized)")
    train.add_argument("--mode", choices=["dense", "strided"], default="strided", help="exported evaluation mode")
    train.add_argument("--batch", type=positive_int, default=1)
    train.add_argument("--crop", type=int, default=0, help="train on a random crop×crop window per step (0 = whole image)")
    train.add_argument("--lr", type=float, default=1e-4)
    train.add_argument("--weight-decay", type=float, default=1e-5)
    train.add_argument("--colour", choices=["auto", "gray", "rgb"], default="auto")
    train.add_argument("--normalisation", choices=["imagenet", "per-image"], default="per-image",
                       help="input normalisation inside the graph: per-image mean/std (default) or ImageNet's constants")
    train.add_argument("--hard-fraction", type=fraction, default=0.1,
                       help="students learn from this share of the worst-regressed positions per step (1 = all)")
    train.add_argument("--min-images", type=positive_int, default=4)
    train.add_argument("--checkpoint-every", type=positive_int, default=1, help="epochs between checkpoints")
    train.add_argument("--opset", type=int, default=13)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=0)
    train.add_argument("--device", choices=DEVICES, default="auto", help="auto (CUDA when PyTorch sees a GPU), cpu or cuda")
    train.add_argument("--skip-corrupt", action="store_true")

    exp = commands.add_parser("export", help="re-export a trained bundle in another mode or with fewer scales")
    exp.add_argument("--bundle", required=True, action="append",
                     help="a bundle trained on this machine (with its training/ folder); repeat to fuse several")
    exp.add_argument("--out", required=True, help="the new bundle folder")
    exp.add_argument("--mode", choices=["dense", "strided"], required=True)
    exp.add_argument("--scales", type=scales, default=None, help="a subset of the bundle's scales (default: all)")
    exp.add_argument("--opset", type=int, default=13)

    ref = commands.add_parser("reference", help="write PyTorch reference outputs of a bundle (for tests)")
    ref.add_argument("--bundle", required=True)
    ref.add_argument("--out", required=True)
    ref.add_argument("--seed", type=int, default=0)
    tb = commands.add_parser("bench-torch", help="time the bundle's fused computation in PyTorch eager (for inspector bench)")
    tb.add_argument("--bundle", required=True)
    tb.add_argument("--runs", type=positive_int, default=20)
    tb.add_argument("--warmup", type=int, default=2)
    tb.add_argument("--threads", type=int, default=0)
    return root


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        if args.command == "pretrain-teacher":
            from . import pretrain
            pretrain.run(args)
        elif args.command == "convert-mobilenet":
            from pathlib import Path
            from . import mobilenet_v2
            trunk, digest = mobilenet_v2.convert(Path(args.tfjs))
            mobilenet_v2.save(trunk, digest, Path(args.out))
            emit("done", path=args.out, weights_sha256=digest)
        elif args.command == "train":
            from . import students
            students.run(args)
        elif args.command == "export":
            from pathlib import Path
            from .export import reexport
            from .progress import emit as emit_event
            manifest = reexport([Path(b) for b in args.bundle], Path(args.out), args.mode, args.scales, args.opset)
            emit_event("done", path=str(Path(args.out)), manifest=str(manifest))
        elif args.command == "bench-torch":
            import json
            from pathlib import Path
            from .bench_torch import bench
            print(json.dumps(bench(Path(args.bundle), args.runs, args.warmup, args.threads)))
        else:
            from pathlib import Path
            from .export import write_reference
            write_reference(Path(args.bundle), Path(args.out), args.seed)
    except UserError as err:
        emit("error", code=err.code, message=err.message)
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        emit("error", code="INTERRUPTED", message="interrupted before a checkpoint")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
