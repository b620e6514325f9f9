"""`python3 -m inspector_training COMMAND …` — the trainer behind `inspector train` and
`inspector pretrain-teacher`. Errors a user can fix come out as one message, not a traceback."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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


OPTIONS_FILE = Path(__file__).with_name("options.json")
TYPES = {"str": str, "int": int, "float": float, "positive_int": positive_int, "fraction": fraction, "scales": scales}


def parser() -> argparse.ArgumentParser:
    """Built from options.json, which the inspector CLI reads too: each default and help text exists once."""
    root = OptionParser(prog="python3 -m inspector_training")
    commands = root.add_subparsers(dest="command", required=True)
    spec = json.loads(OPTIONS_FILE.read_text(encoding="utf-8"))
    for name, command in spec.items():
        if name.startswith("//"):
            continue
        sub = commands.add_parser(name, help=command["help"])
        for option in command["options"]:
            if option.get("kind") == "flag":
                sub.add_argument(option["flag"], action="store_true", help=option["help"])
                continue
            sub.add_argument(option["flag"], type=TYPES[option["type"]], choices=option.get("choices"),
                             default=option.get("default"), required=option.get("required", False),
                             action="append" if option.get("repeatable") else "store", help=option["help"])
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
