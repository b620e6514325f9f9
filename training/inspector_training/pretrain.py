"""Teacher pre-training on natural images: Lm + Lc (self-supervised), plus Lk when a pretrained
network is given — per patch (the paper's pooled target) or per position (dense_distillation.py)."""
from __future__ import annotations

import csv
import json
import os
import random
import time
from argparse import Namespace
from pathlib import Path

import torch
import torch.nn as nn

from . import checkpoints, dense_distillation, method
from .devices import cpu_state, describe, resolve_device
from .errors import UserError
from .images import expand_image_list, find_images, read_all
from .networks import NetworkConfig, PatchNetwork, count_parameters
from .progress import Progress, StopFlag, emit
from .teacher_data import PatchSampler
from .teacher_file import TEACHER_FORMAT, TEACHER_VERSION, load_teacher, teacher_path
from . import teacher_quality
from .distillers import load_distiller
from .mobilenet_v2 import MobileNetV2Trunk
from .resnet18 import FEATURES

MIN_PHOTOS = 2
BASELINE_SEED = 12345
LOSS_COLUMNS = ["step", "loss", "triplet", "compactness", "distillation", "seconds"]


def collect_photos(args: Namespace) -> list[Path]:
    files: list[Path] = []
    for folder in args.images or []:
        files.extend(find_images(folder, recursive=True))
    if args.image_list:
        files.extend(expand_image_list(args.image_list))
    files = sorted(set(files))
    if len(files) < MIN_PHOTOS:
        raise UserError("TOO_FEW_IMAGES", f"found {len(files)} image(s); teacher pre-training needs at least "
                        f"{MIN_PHOTOS} (two or more for held-out quality checks, a few dozen for a useful "
                        "teacher). Give --images FOLDER or --image-list FILE.")
    return files


def split_holdout(count: int, every: int) -> tuple[list[int], list[int]]:
    """Indices of training and held-out photos; at least one photo is always held out."""
    held = [i for i in range(count) if every > 0 and i % every == every - 1] or [count - 1]
    return [i for i in range(count) if i not in held], held


def plot_losses(csv_path: Path, png_path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = list(csv.DictReader(open(csv_path)))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
    for column in ("loss", "triplet", "compactness", "distillation"):
        values = [float(r[column]) for r in rows]
        if any(values):
            axis.plot(steps, values, label=column, linewidth=1)
    axis.set_xlabel("step")
    axis.set_ylabel("loss (running mean)")
    axis.set_yscale("log")
    axis.set_title(title)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png_path)
    plt.close(figure)


def pretrain_scale(args: Namespace, patch_size: int, photos: list, held_photos: list, stop: StopFlag,
                   device: torch.device = torch.device("cpu")) -> dict:
    out = Path(args.out)
    run_dir = out / f"p{patch_size}-run"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = NetworkConfig(patch_size, args.width, args.descriptor_size)
    torch.manual_seed(args.seed + patch_size)
    network = PatchNetwork(config)
    distiller = load_distiller(Path(args.distill_from)) if args.distill_from else None
    dense_block = dense_target_block(args, distiller)
    target = dense_distillation.DenseTarget(distiller, dense_block) if dense_block is not None else None
    # the FC layer of Lk (a 1×1 convolution when dense), dropped afterwards
    if target is not None:
        projection: nn.Module = nn.Conv2d(config.descriptor_size, target.channels, 1)
    else:
        projection = nn.Linear(config.descriptor_size, distiller.features if distiller is not None else FEATURES)
    network.to(device)
    projection.to(device)
    if distiller is not None:
        distiller.to(device)
    if target is not None:
        target.to(device)
    params = list(network.parameters()) + (list(projection.parameters()) if distiller else [])
    optimiser = torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)
    step, elapsed = 0, 0.0
    checkpoint_file = run_dir / "checkpoint.pt"
    final_file = teacher_path(out, patch_size)
    def require_same_config(found: dict, source: Path, found_target: str = "pooled") -> None:
        if found != config.to_dict() or found_target != args.distill_target:
            raise UserError("RESUME_MISMATCH", f"{source}: made with {found} and --distill-target {found_target}, this "
                            f"run asks for {config.to_dict()} and --distill-target {args.distill_target}. "
                            f"Use the same settings, or delete {source} (and {run_dir}) to start over.")

    target_fitted = False
    if checkpoint_file.exists():
        state = checkpoints.load(checkpoint_file)
        require_same_config(state["config"], checkpoint_file, state.get("distill_target", "pooled"))
        network.load_state_dict(state["state_dict"])
        projection.load_state_dict(state["projection"])
        if target is not None:
            target.mean.copy_(state["target_mean"])
            target.std.copy_(state["target_std"])
            target_fitted = True
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed, source, fresh = state["step"], state["elapsed"], checkpoint_file, False
    elif final_file.exists():
        # A committed teacher carries weights but no optimiser state: continue from it.
        _, blob = load_teacher(final_file, patch_size)
        require_same_config(blob["config"], final_file, blob["settings"].get("distill_target") or "pooled")
        network.load_state_dict(blob["state_dict"])
        step, elapsed, source, fresh = blob["step"], blob["settings"].get("seconds", 0.0), final_file, True
    if step:
        random.seed(args.seed + step)
        torch.manual_seed(args.seed + step)
        emit("resumed", patch_size=patch_size, step=step, source=str(source), optimiser="fresh" if fresh else "restored")

    # Each loss draws its own kind of sample: triplets of patches, or whole pictures when dense.
    if target is None:
        sampler, pictures = PatchSampler(photos, patch_size, seed=args.seed + patch_size + step), None
    else:
        sampler, pictures = None, dense_distillation.picture_sampler(photos, seed=args.seed + patch_size + step)
        if not target_fitted:
            target.fit(pictures, args.batch, device)
    losses_file = run_dir / "losses.csv"
    if step == 0 or not losses_file.exists():
        with open(losses_file, "w", newline="") as handle:
            csv.writer(handle).writerow(LOSS_COLUMNS)

    progress = Progress(f"teacher p={patch_size}", args.steps, step)
    running: dict[str, float] = {}
    network.train()
    started = time.monotonic() - elapsed

    def save_checkpoint() -> None:
        dense = {"target_mean": target.mean.cpu(), "target_std": target.std.cpu()} if target is not None else {}
        checkpoints.save({"config": config.to_dict(), "state_dict": cpu_state(network),
                          "projection": cpu_state(projection), "optimiser": optimiser.state_dict(),
                          "step": step, "elapsed": time.monotonic() - started,
                          "distill_target": args.distill_target, **dense},
                         checkpoint_file, 4 * checkpoints.state_bytes(network))

    while step < args.steps and not stop.requested:
        if target is not None:
            small, large = pictures.batch(args.batch)
            l_k, l_c = dense_distillation.losses(network, projection, target, small.to(device), large.to(device))
            l_m = torch.zeros(())
        else:
            anchor, positive, negative = sampler.triplets(args.batch)
            batch = torch.cat([anchor, positive, negative]).to(device)
            descriptors = network(batch, "patch").flatten(1)
            a, p, n = descriptors.split(args.batch)
            l_m = method.triplet_loss(a, p, n, args.margin)
            l_c = method.compactness_loss(descriptors)
            l_k = torch.zeros(())
            if distiller is not None:
                with torch.no_grad():
                    pooled = distiller(batch)
                l_k = method.distillation_loss(projection(descriptors), pooled)
        loss = args.lambda_m * l_m + args.lambda_c * l_c + args.lambda_k * l_k
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        step += 1
        for key, value in (("loss", loss), ("triplet", l_m), ("compactness", l_c), ("distillation", l_k)):
            running[key] = 0.98 * running.get(key, value.item()) + 0.02 * value.item()
        if step % args.log_every == 0 or step == args.steps:
            with open(losses_file, "a", newline="") as handle:
                csv.writer(handle).writerow([step] + [round(running[k], 6) for k in LOSS_COLUMNS[1:5]]
                                            + [round(time.monotonic() - started, 1)])
            progress.report(step, **{k: round(v, 5) for k, v in running.items()})
        if step % args.checkpoint_every == 0:
            save_checkpoint()
    save_checkpoint()
    seconds = time.monotonic() - started
    network.cpu()  # the quality check and the teacher file are made on the CPU, as they are used
    if target is not None:
        target.cpu()
    plot_losses(losses_file, run_dir / "losses.png", f"teacher p={patch_size} pre-training")

    # Quality on held-out photos, against a random network of the same shape.
    held_sampler = PatchSampler(held_photos, patch_size, seed=BASELINE_SEED)
    torch.manual_seed(BASELINE_SEED)
    held = held_sampler.triplets(args.eval_triplets)
    torch.manual_seed(BASELINE_SEED)
    baseline = PatchNetwork(config)
    quality = {"trained": teacher_quality.measure(network, held),
               "random_init": teacher_quality.measure(baseline, held),
               "held_out_images": len(held_photos)}
    if target is not None:
        # R² of the block's map from the descriptors, on crops of the held-out photos
        for key, measured in (("trained", network), ("random_init", baseline)):
            quality[key]["explained_variance"] = dense_distillation.explained_variance(
                measured, target, dense_distillation.picture_sampler(held_photos, seed=BASELINE_SEED), args.batch)
    settings = {
        "steps": step, "batch_triplets": args.batch, "lr": args.lr, "weight_decay": args.weight_decay,
        "margin": args.margin, "lambda_m": args.lambda_m if target is None else 0.0, "lambda_c": args.lambda_c,
        "lambda_k": args.lambda_k if distiller else 0.0, "distill_from": args.distill_from,
        "distill_target": args.distill_target if distiller else None,
        "input_normalisation": "per-image" if target is not None else "imagenet",
        "images": len(photos), "seed": args.seed, "seconds": round(seconds, 1),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "device": describe(device),
        "parameters": count_parameters(network),
    }
    checkpoints.save({"format": TEACHER_FORMAT, "version": TEACHER_VERSION, "config": config.to_dict(),
                      "state_dict": network.state_dict(), "step": step, "settings": settings,
                      "quality": quality}, final_file, checkpoints.state_bytes(network))
    summary = {"patch_size": patch_size, "config": config.to_dict(), "settings": settings, "quality": quality,
               "file": final_file.name, "complete": step >= args.steps}
    (out / f"teacher_p{patch_size}.json").write_text(json.dumps(summary, indent=2) + "\n")
    emit("teacher", **summary)
    return summary


def dense_target_block(args: Namespace, distiller: nn.Module | None) -> int | None:
    """The MobileNetV2 block of --distill-target block_N, None for the pooled target; or why not."""
    try:
        block = dense_distillation.parse_target(args.distill_target)
    except ValueError:
        raise UserError("BAD_OPTION", f"--distill-target {args.distill_target!r}: give pooled, or block_N with N "
                        "from 0 to 10 (a MobileNetV2 block, e.g. block_5 for p=33, block_9 for p=65).")
    if block is None:
        return None
    if distiller is None or not isinstance(distiller, MobileNetV2Trunk):
        raise UserError("BAD_OPTION", f"--distill-target {args.distill_target} needs --distill-from naming the "
                        "MobileNetV2 trunk written by `inspector convert-mobilenet` (docs/training.md).")
    if not 0 <= block < len(distiller.blocks):
        raise UserError("BAD_OPTION", f"--distill-target {args.distill_target}: the MobileNetV2 trunk has blocks "
                        f"block_0 to block_{len(distiller.blocks) - 1}.")
    return block


def run(args: Namespace) -> None:
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    device = resolve_device(args.device)
    files = collect_photos(args)
    readable, _, _ = read_all(files, args.skip_corrupt, args.max_side)
    if len(readable) < MIN_PHOTOS:
        raise UserError("TOO_FEW_IMAGES", f"only {len(readable)} readable image(s); at least {MIN_PHOTOS} are needed.")
    train_indices, held_indices = split_holdout(len(readable), args.holdout_every)
    photos = [readable[i] for i in train_indices]
    held = [readable[i] for i in held_indices]
    emit("photos", train=len(photos), held_out=len(held))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    stop = StopFlag()
    for patch_size in args.scales:
        pretrain_scale(args, patch_size, photos, held, stop, device)
        if stop.requested:
            emit("stopped", message="stopped at a checkpoint; rerun the same command to resume")
            raise SystemExit(130)
    emit("done", path=str(Path(args.out)))
