"""Student training on good images, then export of the bundle.

Per scale: the teacher's descriptor mean and std per channel over the training images, then M
students regressing the normalised teacher. Training runs the strided network with a random
sub-stride offset each step: its outputs are a random subsample of the dense outputs, computed by
the same weights, at 1/stride² of the cost.
"""
from __future__ import annotations

import os
import random
import time
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import checkpoints, method
from .devices import cpu_state, describe, resolve_device
from .errors import UserError
from .export import export_bundle
from .distillers import load_distiller
from .fused import FusedModel, ScaleHead, network_for, normalise_input
from .images import expand_image_list, find_images, fingerprint, read_all
from .networks import PatchNetwork
from .photo_crops import PictureSampler
from .teacher_file import load_teacher, teacher_path
from .trunk_scales import TRUNK_BLOCKS, TrunkConfig, TrunkLevel
from .progress import Progress, StopFlag, emit

FEW_IMAGES_WARNING = 30
STD_FLOOR_RELATIVE = 1e-2
STATE_DIR = "training"
PENALTY_MAX_SIDE = 1024  # crops of 160–768 px are cut from the photos; larger ones only cost memory
# The photographs teachers are pre-trained on (from Debian packages): unrelated to any part.
SHIPPED_PHOTO_LIST = Path(__file__).resolve().parents[2] / "models" / "teachers" / "photos.txt"
PHOTO_PACKAGES = "mate-backgrounds lomiri-wallpapers-16.04 python3-skimage"


def prepare_images(images: list[np.ndarray], size: int, colour: str, normalisation: str = "imagenet") -> torch.Tensor:
    """N×3×size×size, normalised as the fused graph normalises its 0–255 input."""
    out = []
    for rgb in images:
        image = Image.fromarray(rgb)
        if colour == "gray":
            image = image.convert("L").convert("RGB")
        image = image.resize((size, size), Image.BILINEAR)
        out.append(torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1))
    return normalise_input(torch.stack(out), normalisation)


@torch.no_grad()
def descriptor_statistics(teacher: PatchNetwork, images: torch.Tensor,
                          device: torch.device = torch.device("cpu")) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of the teacher's descriptors, as float32 on the CPU."""
    total = torch.zeros(teacher.config.descriptor_size, dtype=torch.float64, device=device)
    squares = torch.zeros_like(total)
    count = 0
    progress = Progress(f"teacher statistics p={teacher.patch_size}", len(images))
    for index, image in enumerate(images):
        out = teacher(image[None].to(device), "strided").double()
        total += out.sum((0, 2, 3))
        squares += out.pow(2).sum((0, 2, 3))
        count += out.shape[0] * out.shape[2] * out.shape[3]
        progress.report(index + 1)
    mean = total / count
    std = (squares / count - mean.pow(2)).clamp_min(0).sqrt()
    # A channel that barely varies on good parts would turn rounding noise into huge errors.
    floor = STD_FLOOR_RELATIVE * std.median().clamp_min(1e-12)
    return mean.float().cpu(), std.clamp_min(floor).float().cpu()


def training_window(teacher: PatchNetwork, batch: torch.Tensor, crop: int, rng: random.Random) -> torch.Tensor:
    """The padded image from a random offset: a sub-stride shift (the strided network then sees
    other dense positions), and with `crop` > 0 a random crop×crop window of output pixels (for
    p=17, which has no pooling, a whole image per step is costly)."""
    padded = teacher.pad(batch)
    side = batch.shape[-1]
    if crop <= 0 or crop >= side:
        dy, dx = rng.randrange(teacher.stride), rng.randrange(teacher.stride)
        return padded[:, :, dy:, dx:]
    y, x = rng.randrange(side - crop + 1), rng.randrange(side - crop + 1)
    extent = crop + teacher.patch_size - 1
    return padded[:, :, y:y + extent, x:x + extent]


def penalty_photos(args: Namespace) -> tuple[list[np.ndarray], str | None]:
    """The unrelated pictures of the students' penalty (--penalty-images: `default`, the shipped
    models/teachers/photos.txt; an image list file; a folder; or `none`) and a fingerprint of them."""
    if args.penalty_images == "none":
        return [], None
    if args.penalty_weight < 0:
        raise UserError("BAD_OPTION", f"--penalty-weight {args.penalty_weight}: must be 0 or more (1 is EfficientAD's).")
    shipped = args.penalty_images == "default"
    source = SHIPPED_PHOTO_LIST if shipped else Path(args.penalty_images)
    if not source.exists():
        raise UserError("PENALTY_IMAGES_MISSING", f"--penalty-images {source}: no such file or folder. Give an image "
                        "list file (e.g. models/teachers/photos.txt) or a folder of photographs unrelated to the parts.")
    files = expand_image_list(source) if source.is_file() else find_images(source, recursive=True)
    photos, kept, _ = read_all(files, args.skip_corrupt, PENALTY_MAX_SIDE)
    if not photos:
        raise UserError("PENALTY_IMAGES_MISSING", f"--penalty-images {args.penalty_images}: no readable image found"
                        + (f" ({source} lists photographs from Debian packages: `sudo apt-get install {PHOTO_PACKAGES}`"
                           ", which `make setup` does)" if shipped else "")
                        + ". Install them, give --penalty-images a folder of photographs unrelated to the parts, or "
                        "--penalty-images none to train without the penalty (the recipe before 2026-12-03).")
    return photos, fingerprint(kept, source.parent if source.is_file() else source)


def scale_teacher(args: Namespace, scale: int) -> PatchNetwork | TrunkLevel:
    """The frozen teacher of one scale: a patch size's teacher file, or with --imagenet-trunk the
    trunk cut after block `scale`."""
    if args.imagenet_trunk:
        return TrunkLevel(TrunkConfig(scale), load_distiller(Path(args.imagenet_trunk)))
    return load_teacher(teacher_path(Path(args.teachers), scale), scale)[0]


def train_scale(args: Namespace, scale: int, images: torch.Tensor, stop: StopFlag,
                state_dir: Path, device: torch.device = torch.device("cpu"),
                penalty: list[np.ndarray] | None = None, colour: str = "rgb") -> ScaleHead:
    teacher = scale_teacher(args, scale)
    teacher.eval().requires_grad_(False).to(device)
    config = teacher.config
    patch_size = teacher.patch_size
    checkpoint_file = state_dir / f"students_p{patch_size}.pt"
    settings = {"students": args.students, "epochs": args.epochs, "size": args.size, "batch": args.batch, "crop": args.crop,
                "lr": args.lr, "weight_decay": args.weight_decay, "seed": args.seed,
                "normalisation": args.normalisation, "hard_fraction": args.hard_fraction,
                **({"penalty_weight": args.penalty_weight} if penalty else {})}
    torch.manual_seed(args.seed * 1000 + patch_size)
    students = [network_for(config).to(device) for _ in range(args.students)]
    optimisers = [torch.optim.Adam(s.parameters(), lr=args.lr, weight_decay=args.weight_decay) for s in students]
    epoch, mean, std = 0, None, None
    if checkpoint_file.exists():
        state = checkpoints.load(checkpoint_file)
        if state["settings"] != {**settings, "epochs": state["settings"]["epochs"]} or state["config"] != config.to_dict():
            differing = sorted(k for k in {*settings, *state["settings"]} - {"epochs"}
                               if settings.get(k) != state["settings"].get(k))
            before_penalty = "penalty_weight" in differing and "penalty_weight" not in state["settings"]
            raise UserError("RESUME_MISMATCH", f"{checkpoint_file}: made with other settings ({state['settings']}; "
                            f"now different: {', '.join(differing) or 'the teacher'}). "
                            + ("It was trained without the students' penalty: add --penalty-images none to resume it, "
                               if before_penalty else "Use the same settings, ")
                            + f"or delete {state_dir} to start over.")
        for student, optimiser, s_state, o_state in zip(students, optimisers, state["students"], state["optimisers"]):
            student.load_state_dict(s_state)
            optimiser.load_state_dict(o_state)
        epoch, mean, std = state["epoch"], state["mean"], state["std"]
        emit("resumed", patch_size=patch_size, epoch=epoch)
    if mean is None:
        mean, std = descriptor_statistics(teacher, images, device)
    mean_on_device, std_on_device = mean.to(device), std.to(device)

    def save() -> None:
        checkpoints.save({"config": config.to_dict(), "settings": settings, "epoch": epoch, "mean": mean, "std": std,
                          "students": [cpu_state(s) for s in students],
                          "optimisers": [o.state_dict() for o in optimisers]},
                         checkpoint_file, 3 * args.students * checkpoints.state_bytes(teacher))

    rng = random.Random(args.seed * 7919 + patch_size + epoch)
    # Its own generator, so that training without the penalty sees the same windows as before.
    pictures = PictureSampler(penalty, (images.shape[-1],), args.seed * 7919 + patch_size + epoch, args.normalisation,
                              1.0 if colour == "gray" else 0.5) if penalty else None
    penalty_rng = random.Random(args.seed * 104729 + patch_size + epoch)
    steps_per_epoch = (len(images) + args.batch - 1) // args.batch
    progress = Progress(f"students p={patch_size}", args.epochs * steps_per_epoch, epoch * steps_per_epoch)
    stride = teacher.stride
    for student in students:
        student.train()
    while epoch < args.epochs and not stop.requested:
        order = list(range(len(images)))
        rng.shuffle(order)
        running = 0.0
        for step in range(steps_per_epoch):
            if stop.requested:
                break  # an interrupted epoch is redone on resume: only whole epochs are saved
            batch = images[order[step * args.batch:(step + 1) * args.batch]].to(device)
            window = training_window(teacher, batch, args.crop, rng)
            with torch.no_grad():
                target = method.normalise_teacher(teacher.strided_padded(window), mean_on_device, std_on_device)
            unrelated = training_window(teacher, pictures.batch(len(batch))[0].to(device), args.crop, penalty_rng) \
                if pictures else None
            for student, optimiser in zip(students, optimisers):
                loss = method.student_loss(student.strided_padded(window), target, args.hard_fraction)
                if unrelated is not None:
                    loss = loss + args.penalty_weight * method.penalty_loss(student.strided_padded(unrelated))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                running += loss.item() / len(students)
            done = epoch * steps_per_epoch + step + 1
            progress.report(done, epoch=epoch + 1, loss=round(running / (step + 1), 5))
        if stop.requested:
            break
        epoch += 1
        if epoch % args.checkpoint_every == 0 or epoch == args.epochs:
            save()
    if stop.requested:
        return None
    return ScaleHead(teacher.cpu(), [s.cpu().eval() for s in students], mean, std)


def decide_colour(requested: str, all_gray: bool) -> str:
    if requested != "auto":
        return requested
    return "gray" if all_gray else "rgb"


def run(args: Namespace) -> None:
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    device = resolve_device(args.device)
    good = Path(args.good)
    files = find_images(good)
    if len(files) < args.min_images:
        raise UserError("TOO_FEW_IMAGES", f"{good}: found {len(files)} image(s), at least {args.min_images} are "
                        f"needed (a few dozen good parts or more give reliable students). Add images of good parts.")
    scales = trunk_blocks(args) if args.imagenet_trunk else args.scales
    for patch_size in ([] if args.imagenet_trunk else args.scales):
        _, blob = load_teacher(teacher_path(Path(args.teachers), patch_size), patch_size)  # fail before hours of training
        if blob["settings"].get("input_normalisation") == "per-image" and args.normalisation != "per-image":
            emit("warning", code="TEACHER_NORMALISATION", message=f"the p={patch_size} teacher was distilled on "
                 f"per-image normalised pictures, but --normalisation {args.normalisation} was asked for: its "
                 "descriptors will be off. Leave --normalisation at per-image.")
    raw, kept, all_gray = read_all(files, args.skip_corrupt, None)
    if len(kept) < args.min_images:
        raise UserError("TOO_FEW_IMAGES", f"{good}: only {len(kept)} readable image(s) left, at least "
                        f"{args.min_images} are needed.")
    if len(kept) < FEW_IMAGES_WARNING:
        emit("warning", code="FEW_IMAGES", message=f"only {len(kept)} good images: students trained on fewer than "
             f"{FEW_IMAGES_WARNING} tend to flag normal variation as defects.")
    colour = decide_colour(args.colour, all_gray)
    images = prepare_images(raw, args.size, colour, args.normalisation)
    del raw
    penalty, penalty_fingerprint = penalty_photos(args) if not args.imagenet_trunk else ([], None)
    out = Path(args.out)
    state_dir = out / STATE_DIR
    state_dir.mkdir(parents=True, exist_ok=True)
    stop = StopFlag()
    started = time.monotonic()
    heads: dict[int, ScaleHead] = {}
    emit("start", images=len(kept), colour=colour, scales=scales, students=args.students, epochs=args.epochs,
         device=describe(device))
    for scale in scales:
        head = train_scale(args, scale, images, stop, state_dir, device, penalty, colour)
        if head is None:
            emit("stopped", message="stopped at the last whole-epoch checkpoint; rerun the same command to resume")
            raise SystemExit(130)
        heads[head.teacher.patch_size] = head
    model = FusedModel(heads, args.mode, args.normalisation)
    checkpoints.save(model.state(), state_dir / "fused.pt", 0)
    dataset = {"path": str(good.resolve()), "images": len(kept), "fingerprint": fingerprint(kept, good)}
    training = {"students": args.students, "epochs": args.epochs, "batch": args.batch, "crop": args.crop, "lr": args.lr,
                "weight_decay": args.weight_decay, "seed": args.seed, "strided_training": True,
                "normalisation": args.normalisation, "hard_fraction": args.hard_fraction,
                "penalty": {"images": str(args.penalty_images), "photos": len(penalty), "weight": args.penalty_weight,
                            "fingerprint": penalty_fingerprint} if penalty else None,
                "seconds": round(time.monotonic() - started, 1), "threads": torch.get_num_threads(),
                "torch": torch.__version__, "device": describe(device), "dataset": dataset,
                "teachers": {str(p): _teacher_summary(Path(args.teachers), p) for p in args.scales}
                if not args.imagenet_trunk else {str(h.teacher.patch_size): _trunk_summary(Path(args.imagenet_trunk), b)
                                                 for b, h in zip(scales, heads.values())}}
    manifest_path = export_bundle(model, out, args.size, colour, training, args.opset)
    emit("done", path=str(out), manifest=str(manifest_path))


def trunk_blocks(args: Namespace) -> list[int]:
    """--blocks for --imagenet-trunk, checked before any image is read."""
    try:
        blocks = sorted({int(b) for b in args.blocks.split(",") if b.strip()})
    except ValueError:
        blocks = []
    if not blocks or any(b not in TRUNK_BLOCKS for b in blocks):
        raise UserError("BAD_OPTION", f"--blocks {args.blocks}: give MobileNetV2 block numbers from "
                        f"{TRUNK_BLOCKS[0]} to {TRUNK_BLOCKS[-1]}, e.g. 5,9.")
    if args.mode == "dense":
        raise UserError("BAD_OPTION", "--imagenet-trunk with --mode dense: a MobileNetV2 block has no dense form; "
                        "use --mode strided.")
    if args.crop:
        raise UserError("BAD_OPTION", "--imagenet-trunk with --crop: the block scales train on whole images; drop --crop.")
    if args.normalisation != "per-image":
        raise UserError("BAD_OPTION", "--imagenet-trunk needs --normalisation per-image (the trunk's input is mapped "
                        "from it).")
    load_distiller(Path(args.imagenet_trunk))  # a missing or foreign file fails now, not after the statistics
    return blocks


def _trunk_summary(path: Path, block: int) -> dict:
    from .images import sha256_file
    return {"file": str(path), "sha256": sha256_file(path), "block": block,
            "source": torch.load(path, map_location="cpu").get("source")}


def _teacher_summary(folder: Path, patch_size: int) -> dict:
    from .images import sha256_file
    path = teacher_path(folder, patch_size)
    _, blob = load_teacher(path, patch_size)
    return {"file": str(path), "sha256": sha256_file(path), "steps": blob["step"],
            "settings": blob["settings"]}
