import json

import pytest
import torch

from inspector_training import pretrain, teacher_file
from inspector_training.__main__ import main
from inspector_training.devices import resolve_device
from inspector_training.fused import FusedModel
from conftest import cli_args

HAS_CUDA = torch.cuda.is_available()
TINY_PRETRAIN = ["--batch", "4", "--width", "0.125", "--descriptor-size", "16", "--eval-triplets", "8", "--threads", "2"]


def train(good, out, teachers, device):
    return main(["train", "--good", str(good), "--out", str(out), "--teachers", str(teachers), "--scales", "33",
                 "--mode", "strided", "--students", "2", "--epochs", "1", "--size", "40", "--threads", "2",
                 "--device", device])


def outputs(bundle, image):
    return FusedModel.from_state(torch.load(bundle / "training" / "fused.pt"))(image)


def test_auto_is_the_cpu_without_a_gpu_and_cuda_is_refused_clearly(capsys):
    if HAS_CUDA:
        assert resolve_device("auto").type == "cuda"
        return
    assert resolve_device("auto") == torch.device("cpu")
    assert main(["train", "--good", "x", "--out", "y", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda: PyTorch sees no CUDA GPU here" in err and "--device cpu or auto" in err
    assert main(["train", "--good", "x", "--out", "y", "--device", "tpu"]) == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_device_cpu_trains_the_same_bundle_as_the_default_and_says_so(tmp_path, good_images, tiny_teachers):
    image = torch.rand(1, 3, 40, 40) * 255
    assert train(good_images, tmp_path / "cpu", tiny_teachers, "cpu") == 0
    assert main(["train", "--good", str(good_images), "--out", str(tmp_path / "default"), "--teachers",
                 str(tiny_teachers), "--scales", "33", "--mode", "strided", "--students", "2", "--epochs", "1",
                 "--size", "40", "--threads", "2"]) == 0
    for a, b in zip(outputs(tmp_path / "cpu", image), outputs(tmp_path / "default", image)):
        assert torch.equal(a, b) if not HAS_CUDA else torch.allclose(a, b, rtol=1e-3, atol=1e-3)
    manifest = json.loads((tmp_path / "cpu" / "manifest.json").read_text())
    assert manifest["training"]["device"] == "cpu"


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU in this machine: the CUDA path runs where PyTorch sees one")
def test_cuda_training_matches_the_cpu_within_float_tolerance(tmp_path, good_images, tiny_teachers):
    image = torch.rand(1, 3, 40, 40) * 255
    assert train(good_images, tmp_path / "cpu", tiny_teachers, "cpu") == 0
    assert train(good_images, tmp_path / "cuda", tiny_teachers, "cuda") == 0
    for a, b in zip(outputs(tmp_path / "cpu", image), outputs(tmp_path / "cuda", image)):
        assert torch.allclose(a, b, rtol=1e-2, atol=1e-3)
    assert json.loads((tmp_path / "cuda" / "manifest.json").read_text())["training"]["device"].startswith("cuda")


def test_pretrain_records_its_device_and_resumes_across_devices(tmp_path, photos):
    args = ["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path), "--scales", "17",
            "--checkpoint-every", "1", *TINY_PRETRAIN]
    first = "cuda" if HAS_CUDA else "cpu"
    pretrain.run(cli_args(*args, "--steps", "1", "--device", first))
    pretrain.run(cli_args(*args, "--steps", "2", "--device", "cpu"))  # a GPU run finished on a CPU
    _, blob = teacher_file.load_teacher(tmp_path / "teacher_p17.pt", 17)
    assert blob["step"] == 2 and blob["settings"]["device"] == "cpu"
    assert all(t.device.type == "cpu" for t in blob["state_dict"].values())
