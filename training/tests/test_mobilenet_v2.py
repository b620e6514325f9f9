import csv
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from inspector_training import mobilenet_v2, pretrain, teacher_file
from inspector_training.__main__ import main
from inspector_training.distillers import load_distiller
from inspector_training.errors import UserError
from conftest import cli_args

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "nsfwjs-mobilenet.mjs"
HAVE_NSFWJS = (ROOT / "node_modules" / "nsfwjs").is_dir() and (ROOT / "node_modules" / "@tensorflow" / "tfjs").is_dir()
needs_nsfwjs = pytest.mark.skipif(not HAVE_NSFWJS or shutil.which("node") is None,
                                  reason="nsfwjs and @tensorflow/tfjs (devDependencies) are not installed: run npm ci")
TINY = ["--batch", "2", "--width", "0.125", "--descriptor-size", "16", "--eval-triplets", "8", "--threads", "2"]


@pytest.fixture(scope="module")
def tfjs_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mobilenet-tfjs")
    subprocess.run(["node", str(SCRIPT), "unpack", str(folder)], check=True, capture_output=True)
    return folder


@pytest.fixture(scope="module")
def distiller_file(tfjs_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("distiller") / "mobilenet_v2.pt"
    assert main(["convert-mobilenet", "--tfjs", str(tfjs_folder), "--out", str(out)]) == 0
    return out


def picture() -> np.ndarray:
    """A 224² RGB picture with edges, a gradient and texture, in Keras's [-1, 1] range (NHWC)."""
    image = Image.new("RGB", (224, 224))
    pixels = np.linspace(0, 255, 224, dtype=np.float32)
    image.paste(Image.fromarray(np.stack([np.tile(pixels, (224, 1))] * 3, -1).astype(np.uint8)))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 50, 150, 170), fill=(200, 40, 60))
    draw.rectangle((120, 20, 210, 90), outline=(20, 220, 90), width=6)
    for x in range(0, 224, 9):
        draw.line((x, 180, x + 30, 224), fill=(250, 250, 250), width=2)
    return (np.asarray(image, dtype=np.float32) / 127.5 - 1)[None]


@needs_nsfwjs
def test_converted_trunk_matches_tfjs_on_a_picture(tfjs_folder, distiller_file, tmp_path):
    x = picture()
    (tmp_path / "in.f32").write_bytes(x.astype("<f4").tobytes())
    subprocess.run(["node", str(SCRIPT), "reference", str(tmp_path / "in.f32"), str(tmp_path / "out.f32")],
                   check=True, capture_output=True)
    reference = np.frombuffer((tmp_path / "out.f32").read_bytes(), "<f4").reshape(1, 14, 14, 96)
    trunk = load_distiller(distiller_file)
    with torch.no_grad():
        ours = trunk.feature_map(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.abs(reference).max() > 1  # a real response, not zeros
    assert np.abs(ours - reference).max() < 1e-3 * np.abs(reference).max()
    blob = torch.load(distiller_file)
    assert blob["source"]["frozen_through"] == "block_10_project_BN" and len(blob["source"]["weights_sha256"]) == 64


@needs_nsfwjs
def test_teacher_pretrains_with_the_mobilenet_distiller(distiller_file, photos, tmp_path):
    trunk = load_distiller(distiller_file)
    assert trunk.features == 96 and trunk(torch.zeros(2, 3, 17, 17)).shape == (2, 96)
    pretrain.run(cli_args("pretrain-teacher", "--images", str(photos), "--out", str(tmp_path), "--steps", "1",
                          "--scales", "17", "--distill-from", str(distiller_file), "--lambda-m", "0",
                          "--log-every", "1", *TINY))
    row = list(csv.DictReader(open(tmp_path / "p17-run" / "losses.csv")))[-1]
    assert float(row["distillation"]) > 0 and float(row["triplet"]) > 0  # measured, weighted 0
    _, blob = teacher_file.load_teacher(tmp_path / "teacher_p17.pt", 17)
    assert blob["settings"]["lambda_m"] == 0 and blob["settings"]["distill_from"] == str(distiller_file)


def test_conversion_errors_name_the_problem(tmp_path, capsys):
    assert main(["convert-mobilenet", "--tfjs", str(tmp_path), "--out", str(tmp_path / "x.pt")]) == 2
    assert "not a TF.js layers model" in capsys.readouterr().err
    (tmp_path / "model.json").write_text('{"weightsManifest": [{"paths": ["w.bin"], "weights": '
                                         '[{"name": "Conv1/kernel", "shape": [1], "dtype": "float32"}]}]}')
    (tmp_path / "w.bin").write_bytes(b"\0" * 4)
    assert main(["convert-mobilenet", "--tfjs", str(tmp_path), "--out", str(tmp_path / "x.pt")]) == 2
    assert "Conv1/kernel has shape [1], expected one for [32, 3, 3, 3]" in capsys.readouterr().err


def test_distiller_files_are_checked(tmp_path, photos, capsys):
    other = tmp_path / "other.pt"
    torch.save({"format": mobilenet_v2.DISTILLER_FORMAT, "architecture": "vgg", "state_dict": {}}, other)
    assert main(["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path / "o"), "--steps", "1",
                 "--scales", "17", "--distill-from", str(other)]) == 2
    assert "distiller architecture 'vgg'" in capsys.readouterr().err


DENSE = ["--distill-target", "block_5", "--lambda-m", "0", "--batch", "2", "--width", "0.125",
         "--descriptor-size", "16", "--eval-triplets", "8", "--threads", "2", "--checkpoint-every", "1",
         "--log-every", "1", "--scales", "33"]


@needs_nsfwjs
def test_dense_distillation_runs_resumes_and_reports_explained_variance(distiller_file, photos, tmp_path):
    trunk = load_distiller(distiller_file)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    rest = trunk.block_map(x, 5)
    assert rest.shape == (1, 32, 8, 8)  # stride 8
    for block in trunk.blocks[6:]:  # block_map(·, 5) ends exactly after block_5: the rest completes the trunk
        rest = block(rest)
    assert torch.allclose(rest, trunk.feature_map(x), atol=1e-5)
    args = ["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path),
            "--distill-from", str(distiller_file), *DENSE]
    pretrain.run(cli_args(*args, "--steps", "2"))
    first = torch.load(tmp_path / "p33-run" / "checkpoint.pt")
    assert first["distill_target"] == "block_5" and first["target_mean"].shape == (32,)
    pretrain.run(cli_args(*args, "--steps", "3"))
    resumed = torch.load(tmp_path / "p33-run" / "checkpoint.pt")
    assert resumed["step"] == 3 and torch.equal(resumed["target_std"], first["target_std"])
    rows = list(csv.DictReader(open(tmp_path / "p33-run" / "losses.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["distillation"]) > 0 and float(rows[-1]["triplet"]) == 0
    _, blob = teacher_file.load_teacher(tmp_path / "teacher_p33.pt", 33)
    assert blob["settings"]["distill_target"] == "block_5" and blob["settings"]["input_normalisation"] == "per-image"
    for key in ("trained", "random_init"):
        assert 0 <= blob["quality"][key]["explained_variance"] <= 1
    with pytest.raises(UserError, match="--distill-target block_9"):  # a resumed run keeps its target
        pretrain.run(cli_args(*[v if v != "block_5" else "block_9" for v in args], "--steps", "4"))


def test_dense_targets_are_checked(tmp_path, photos, capsys):
    base = ["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path / "o"), "--steps", "1", "--scales", "17"]
    assert main([*base, "--distill-target", "block_5"]) == 2
    assert "needs --distill-from naming the MobileNetV2 trunk" in capsys.readouterr().err
    assert main([*base, "--distill-target", "layer3"]) == 2
    assert "give pooled, or block_N" in capsys.readouterr().err


@needs_nsfwjs
def test_dense_target_beyond_the_trunk_is_named(tmp_path, photos, capsys, distiller_file):
    assert main(["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path / "o"), "--steps", "1",
                 "--scales", "17", "--distill-from", str(distiller_file), "--distill-target", "block_11"]) == 2
    assert "has blocks block_0 to block_10" in capsys.readouterr().err
