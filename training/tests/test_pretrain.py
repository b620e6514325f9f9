import csv
import json

import pytest

from inspector_training import pretrain, teacher_file
from inspector_training.__main__ import main
from inspector_training.errors import UserError
from conftest import cli_args, write_images

TINY = ["--batch", "4", "--width", "0.125", "--descriptor-size", "16", "--eval-triplets", "8", "--threads", "2"]


def test_pretrain_writes_teachers_logs_plot_and_quality(tiny_teachers):
    for p in (17, 33, 65):
        network, blob = teacher_file.load_teacher(teacher_file.teacher_path(tiny_teachers, p), p)
        assert blob["step"] == 2 and network.patch_size == p
        summary = json.loads((tiny_teachers / f"teacher_p{p}.json").read_text())
        assert set(summary["quality"]) == {"trained", "random_init", "held_out_images"}
        assert 0.0 <= summary["quality"]["trained"]["retrieval_top1"] <= 1.0
        assert (tiny_teachers / f"p{p}-run" / "losses.png").stat().st_size > 1000
        rows = list(csv.DictReader(open(tiny_teachers / f"p{p}-run" / "losses.csv")))
        assert [int(r["step"]) for r in rows] == [2]


def test_resume_continues_from_the_checkpoint(tmp_path, photos):
    args = ["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path), "--scales", "33",
            "--checkpoint-every", "1", "--log-every", "1", *TINY]
    pretrain.run(cli_args(*args, "--steps", "2"))
    pretrain.run(cli_args(*args, "--steps", "3"))
    _, blob = teacher_file.load_teacher(tmp_path / "teacher_p33.pt", 33)
    assert blob["step"] == 3
    steps = [int(r["step"]) for r in csv.DictReader(open(tmp_path / "p33-run" / "losses.csv"))]
    assert steps == [1, 2, 3]


def test_resume_with_other_settings_is_refused(tmp_path, photos):
    base = ["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path), "--scales", "17", "--steps", "1"]
    pretrain.run(cli_args(*base, *TINY))
    with pytest.raises(UserError, match="Use the same settings"):
        pretrain.run(cli_args(*base, *[v if v != "0.125" else "0.25" for v in TINY]))


def test_teacher_of_the_wrong_scale_is_named(tiny_teachers, tmp_path):
    (tmp_path / "teacher_p33.pt").write_bytes((tiny_teachers / "teacher_p65.pt").read_bytes())
    with pytest.raises(UserError, match="a teacher for p=65, but p=33"):
        teacher_file.load_teacher(tmp_path / "teacher_p33.pt", 33)


def test_too_few_and_corrupt_photos(tmp_path, capsys):
    lone = write_images(tmp_path / "one", 1)
    assert main(["pretrain-teacher", "--images", str(lone), "--out", str(tmp_path / "o")]) == 2
    assert "needs at least 2" in capsys.readouterr().err
    photos = write_images(tmp_path / "photos", 3, size=(120, 120))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    assert main(["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path / "o"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "--skip-corrupt" in err and "Traceback" not in err
    assert main(["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path / "o"), "--steps", "1",
                 "--scales", "17", "--skip-corrupt", *TINY]) == 0
    assert "IMAGE_SKIPPED" in capsys.readouterr().out


def test_distillation_needs_a_resnet18_file(tmp_path, photos, capsys):
    bad = tmp_path / "not-resnet.pth"
    import torch
    torch.save({"weight": torch.zeros(2)}, bad)
    assert main(["pretrain-teacher", "--images", str(photos), "--out", str(tmp_path / "o"), "--steps", "1",
                 "--scales", "17", "--distill-from", str(bad), *TINY]) == 2
    assert "not a ResNet-18 state dict" in capsys.readouterr().err


def test_distillation_runs_with_resnet18_weights(tmp_path, photos):
    import torch
    from inspector_training.resnet18 import ResNet18Features
    weights = tmp_path / "resnet18.pth"
    state = ResNet18Features().state_dict()
    state["fc.weight"] = torch.zeros(1000, 512)  # torchvision files carry the classifier too
    state["fc.bias"] = torch.zeros(1000)
    torch.save(state, weights)
    pretrain.run(cli_args("pretrain-teacher", "--images", str(photos), "--out", str(tmp_path / "o"), "--steps", "1",
                          "--scales", "17", "--distill-from", str(weights), "--log-every", "1", *TINY))
    row = list(csv.DictReader(open(tmp_path / "o" / "p17-run" / "losses.csv")))[-1]
    assert float(row["distillation"]) > 0
