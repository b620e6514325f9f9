"""Finding and reading image files, with errors that name the file."""
from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import UserError
from .progress import emit

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def find_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Image files in a folder; an MVTec category folder means its train/good."""
    root = Path(folder)
    if not root.exists():
        raise UserError("FOLDER_MISSING", f"{root}: no such folder. Give a folder of images.")
    if not root.is_dir():
        raise UserError("NOT_A_FOLDER", f"{root}: not a folder. Give a folder of images.")
    if (root / "train" / "good").is_dir():
        root = root / "train" / "good"
    try:
        pattern = "**/*" if recursive else "*"
        files = sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    except PermissionError as err:
        raise UserError("FOLDER_UNREADABLE", f"{root}: cannot be read ({err.strerror}). Check its permissions.")
    return files


def expand_image_list(list_file: str | Path) -> list[Path]:
    """A text file of glob patterns (one per line, # comments) → the image files they match."""
    path = Path(list_file)
    if not path.is_file():
        raise UserError("LIST_MISSING", f"{path}: no such image list file.")
    files: list[Path] = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pattern = line if os.path.isabs(line) else str(path.parent / line)
            files.extend(Path(p) for p in sorted(glob.glob(pattern, recursive=True))
                         if Path(p).suffix.lower() in IMAGE_SUFFIXES)
    return files


def read_rgb(path: Path, max_side: int | None = None) -> tuple[np.ndarray, bool]:
    """H×W×3 uint8 and whether the file was grayscale. Raises UserError naming a corrupt file."""
    try:
        with Image.open(path) as image:
            image.load()
            grayscale = image.mode in ("L", "LA", "I", "I;16", "1", "F")
            if max_side and max(image.size) > max_side:
                scale = max_side / max(image.size)
                image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                     Image.BICUBIC)
            if image.mode == "I;16" or image.mode == "I":
                array = np.asarray(image, dtype=np.float32)
                array = (array / max(array.max(), 1) * 255).astype(np.uint8)
                rgb = np.stack([array] * 3, -1)
            else:
                rgb = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise UserError("IMAGE_CORRUPT", f"{path}: cannot be read as an image ({err}). "
                        "Remove or replace the file, or pass --skip-corrupt to leave it out.")
    return rgb, grayscale


def read_all(paths: list[Path], skip_corrupt: bool, max_side: int | None = None) -> tuple[list[np.ndarray], list[Path], bool]:
    """Read every image; corrupt ones stop the run or (with skip_corrupt) are skipped with a warning."""
    images, kept, all_gray = [], [], True
    for path in paths:
        try:
            rgb, gray = read_rgb(path, max_side)
        except UserError as err:
            if not skip_corrupt:
                raise
            emit("warning", code="IMAGE_SKIPPED", message=f"skipped {path}: not a readable image")
            continue
        images.append(rgb)
        kept.append(path)
        all_gray = all_gray and gray
    return images, kept, all_gray


def fingerprint(paths: list[Path], root: Path) -> str:
    """sha256 over the sorted names and contents: names the exact data a model was trained on."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path.name).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
