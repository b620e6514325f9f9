import os
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
torch.set_num_threads(os.cpu_count() or 1)

from inspector_training.__main__ import parser  # noqa: E402


def write_images(folder: Path, count: int, size=(72, 64), gray=True, seed=0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        yy, xx = np.mgrid[0:size[1], 0:size[0]]
        base = 120 + 40 * np.sin(xx / (3 + i % 3)) + rng.normal(0, 8, (size[1], size[0]))
        array = np.clip(base, 0, 255).astype(np.uint8)
        image = Image.fromarray(array) if gray else Image.fromarray(np.stack([array, array[::-1], array.T[:size[1], :size[0]] if size[0] == size[1] else array], -1))
        image.save(folder / f"{i:03d}.png")
    return folder


def cli_args(*argv: str) -> Namespace:
    return parser().parse_args(list(argv))


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    return write_images(tmp_path_factory.mktemp("photos"), 6, size=(160, 150), gray=False)


@pytest.fixture(scope="session")
def tiny_teachers(tmp_path_factory, photos) -> Path:
    from inspector_training import pretrain
    out = tmp_path_factory.mktemp("teachers")
    pretrain.run(cli_args("pretrain-teacher", "--images", str(photos), "--out", str(out), "--steps", "2",
                          "--batch", "4", "--width", "0.125", "--descriptor-size", "16", "--eval-triplets", "8",
                          "--threads", "2"))
    return out


@pytest.fixture
def good_images(tmp_path) -> Path:
    return write_images(tmp_path / "good", 5)
