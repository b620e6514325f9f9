import hashlib
import json

import pytest
import torch

from inspector_training.__main__ import main
from inspector_training.export import write_reference
from inspector_training.fused import FusedModel
from conftest import write_images


def train(good, out, teachers, *extra):
    return main(["train", "--good", str(good), "--out", str(out), "--teachers", str(teachers), "--scales", "17,33,65", "--mode", "dense",
                 "--students", "2", "--epochs", "1", "--size", "40", "--threads", "2", *extra])


@pytest.mark.parametrize("mode", ["dense", "strided"])
def test_train_exports_a_bundle_with_manifest(tmp_path, good_images, tiny_teachers, mode):
    out = tmp_path / "bundle"
    assert train(good_images, out, tiny_teachers, "--mode", mode) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "inspector-bundle" and manifest["format_version"] == 1
    assert manifest["mode"] == mode and manifest["input"]["shape"] == [1, 3, 40, 40]
    assert manifest["input"]["colour"] == "gray"
    assert [s["patch_size"] for s in manifest["scales"]] == [17, 33, 65]
    expected = {17: 40, 33: 40 if mode == "dense" else 10, 65: 40 if mode == "dense" else 5}
    for scale in manifest["scales"]:
        assert scale["output_shape"] == [1, 1, expected[scale["patch_size"]]] * 1 + [expected[scale["patch_size"]]]
        assert scale["students"] == 2
    assert manifest["descriptor_size"] == 16
    digest = hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
    assert manifest["files"] == {"model.onnx": digest}
    training = manifest["training"]
    assert training["dataset"]["images"] == 5 and len(training["dataset"]["fingerprint"]) == 64
    assert training["teachers"]["33"]["steps"] == 2


def test_fused_model_outputs_match_the_method(tmp_path, good_images, tiny_teachers):
    out = tmp_path / "bundle"
    assert train(good_images, out, tiny_teachers, "--scales", "33", "--mode", "strided") == 0
    model = FusedModel.from_state(torch.load(out / "training" / "fused.pt"))
    image = torch.rand(1, 3, 40, 40) * 255
    error, variance = model(image)
    assert error.shape == variance.shape == (1, 1, 10, 10)
    assert (variance >= -1e-4).all() and (error >= 0).all()
    write_reference(out, tmp_path / "ref")
    index = json.loads((tmp_path / "ref" / "reference.json").read_text())
    assert set(index["outputs"]) == {"e_33", "v_33"}


def test_resume_skips_finished_epochs(tmp_path, good_images, tiny_teachers, capsys):
    out = tmp_path / "bundle"
    assert train(good_images, out, tiny_teachers, "--scales", "17") == 0
    capsys.readouterr()
    assert main(["train", "--good", str(good_images), "--out", str(out), "--teachers", str(tiny_teachers),
                 "--students", "2", "--epochs", "2", "--size", "40", "--scales", "17"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"event": "resumed", "patch_size": 17, "epoch": 1}.items() <= next(e for e in events if e["event"] == "resumed").items()
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[-1]["epoch"] == 2 and progress[-1]["step"] == 10


@pytest.mark.parametrize("case,expected", [
    ("missing", "no such folder"),
    ("empty", "found 0 image(s), at least 4 are needed"),
    ("few", "found 2 image(s), at least 4 are needed"),
])
def test_bad_good_folders_get_a_clear_message(tmp_path, tiny_teachers, capsys, case, expected):
    good = tmp_path / "good"
    if case == "empty":
        good.mkdir()
    if case == "few":
        write_images(good, 2)
    assert train(good, tmp_path / "b", tiny_teachers) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_corrupt_image_stops_or_is_skipped(tmp_path, good_images, tiny_teachers, capsys):
    (good_images / "zz-truncated.png").write_bytes((good_images / "000.png").read_bytes()[:60])
    assert train(good_images, tmp_path / "b", tiny_teachers, "--scales", "33") == 2
    assert "zz-truncated.png" in capsys.readouterr().err
    assert train(good_images, tmp_path / "b", tiny_teachers, "--scales", "33", "--skip-corrupt") == 0
    assert "zz-truncated.png" in capsys.readouterr().out


def test_missing_teacher_fails_before_training(tmp_path, good_images, capsys):
    assert train(good_images, tmp_path / "b", tmp_path / "no-teachers") == 2
    assert "pretrain-teacher" in capsys.readouterr().err


def test_mvtec_category_folder_uses_train_good(tmp_path, tiny_teachers):
    category = tmp_path / "tile"
    write_images(category / "train" / "good", 4)
    write_images(category / "test" / "crack", 2)
    assert train(category, tmp_path / "b", tiny_teachers, "--scales", "33") == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["training"]["dataset"]["images"] == 4


def test_no_disk_space_is_reported(tmp_path, good_images, tiny_teachers, capsys, monkeypatch):
    import shutil
    from collections import namedtuple
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10 << 30, 10 << 30, 1 << 20))
    assert train(good_images, tmp_path / "b", tiny_teachers, "--scales", "33") == 2
    assert "MiB free" in capsys.readouterr().err


def test_reexport_changes_mode_and_scales_without_retraining(tmp_path, good_images, tiny_teachers, capsys):
    source = tmp_path / "strided"
    assert train(good_images, source, tiny_teachers, "--scales", "33,65", "--mode", "strided") == 0
    dense = tmp_path / "dense33"
    assert main(["export", "--bundle", str(source), "--out", str(dense), "--mode", "dense", "--scales", "33"]) == 0
    manifest = json.loads((dense / "manifest.json").read_text())
    assert manifest["mode"] == "dense" and [s["patch_size"] for s in manifest["scales"]] == [33]
    assert manifest["scales"][0]["output_shape"] == [1, 1, 40, 40]
    assert manifest["training"]["exported_from"]["mode"] == "strided"
    a = FusedModel.from_state(torch.load(source / "training" / "fused.pt"))
    b = FusedModel.from_state(torch.load(dense / "training" / "fused.pt"))
    assert torch.equal(a.heads["33"].students[0].convs[0].weight, b.heads["33"].students[0].convs[0].weight)
    capsys.readouterr()
    assert main(["export", "--bundle", str(source), "--out", str(tmp_path / "x"), "--mode", "dense", "--scales", "17"]) == 2
    assert "not p=17" in capsys.readouterr().err


def test_training_window_offsets_and_crops():
    import random
    from inspector_training.networks import NetworkConfig, PatchNetwork
    from inspector_training.students import training_window
    teacher = PatchNetwork(NetworkConfig(33, width=0.125, descriptor_size=8))
    batch = torch.zeros(1, 3, 40, 40)
    rng = random.Random(0)
    whole = training_window(teacher, batch, 0, rng)
    assert 40 + 32 - 3 <= whole.shape[-1] <= 40 + 32  # a sub-stride shift of at most stride-1
    cropped = training_window(teacher, batch, 16, rng)
    assert cropped.shape[-2:] == (16 + 32, 16 + 32)
    assert teacher.strided_padded(cropped).shape[-1] == 4  # 16 output pixels at stride 4


def test_reexport_fuses_scales_trained_separately(tmp_path, good_images, tiny_teachers, capsys):
    a, b = tmp_path / "p33", tmp_path / "p65"
    assert train(good_images, a, tiny_teachers, "--scales", "33", "--mode", "strided") == 0
    assert train(good_images, b, tiny_teachers, "--scales", "65", "--mode", "strided") == 0
    fused = tmp_path / "fused"
    assert main(["export", "--bundle", str(a), "--bundle", str(b), "--out", str(fused), "--mode", "strided"]) == 0
    manifest = json.loads((fused / "manifest.json").read_text())
    assert [s["patch_size"] for s in manifest["scales"]] == [33, 65]
    assert len(manifest["training"]["exported_from"]) == 2
    other_size = tmp_path / "p33-48"
    assert main(["train", "--good", str(good_images), "--out", str(other_size), "--teachers", str(tiny_teachers),
                 "--students", "2", "--epochs", "1", "--size", "48", "--scales", "65"]) == 0
    capsys.readouterr()
    assert main(["export", "--bundle", str(a), "--bundle", str(other_size), "--out", str(tmp_path / "x"), "--mode", "dense"]) == 2
    assert "only bundles with the same input can be fused" in capsys.readouterr().err


def test_per_image_normalisation_makes_brightness_and_contrast_irrelevant():
    from inspector_training.fused import normalise_input
    image = torch.rand(2, 3, 16, 16) * 100 + 50
    normalised = normalise_input(image, "per-image")
    assert normalised.mean((1, 2, 3)).abs().max() < 1e-4
    std = (image - image.mean((1, 2, 3), keepdim=True)).pow(2).mean((1, 2, 3)).sqrt()
    assert torch.allclose(normalised.std((1, 2, 3), unbiased=False), std / (std + 1), atol=1e-4)  # floor: 1 in 255
    assert torch.allclose(normalise_input(image + 40, "per-image"), normalised, atol=1e-5)
    # twice the contrast: equal but for the floor's share (1/29 against 1/58 of the std)
    assert torch.allclose(normalise_input(image * 2 - 40, "per-image"), normalised, rtol=0.03, atol=0.01)
    blank = normalise_input(torch.full((1, 3, 8, 8), 128.0), "per-image")
    assert torch.isfinite(blank).all() and blank.abs().max() == 0


def test_normalisation_and_hard_fraction_are_recorded_and_exported(tmp_path, good_images, tiny_teachers):
    out = tmp_path / "bundle"
    assert train(good_images, out, tiny_teachers, "--scales", "33", "--mode", "strided",
                 "--normalisation", "per-image", "--hard-fraction", "0.25") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["normalisation"].startswith("inside the graph (per image")
    assert manifest["training"]["normalisation"] == "per-image" and manifest["training"]["hard_fraction"] == 0.25
    model = FusedModel.from_state(torch.load(out / "training" / "fused.pt"))
    assert model.normalisation == "per-image"
    image = torch.rand(1, 3, 40, 40) * 100
    for a, b in zip(model(image), model(image + 60)):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)  # a brighter part: the same scores
    imagenet = FusedModel({33: model.heads["33"]}, "strided", "imagenet")
    assert not torch.allclose(imagenet(image)[0], imagenet(image + 60)[0], rtol=1e-2)  # what it replaces
    assert train(good_images, tmp_path / "b2", tiny_teachers, "--hard-fraction", "0") == 2


def _output_on(bundle, pictures):
    head = FusedModel.from_state(torch.load(bundle / "training" / "fused.pt")).heads["33"]
    with torch.no_grad():
        return sum(float(s(pictures, "strided").pow(2).sum(1).mean()) for s in head.students)


def test_penalty_pulls_students_to_zero_on_unrelated_pictures(tmp_path, good_images, tiny_teachers, photos, capsys):
    from inspector_training.photo_crops import PictureSampler
    from inspector_training.images import find_images, read_all
    plain, penalised = tmp_path / "plain", tmp_path / "penalised"
    common = ("--scales", "33", "--mode", "strided", "--normalisation", "per-image", "--epochs", "3")
    assert train(good_images, plain, tiny_teachers, *common, "--penalty-images", "none") == 0
    (tmp_path / "photos.txt").write_text(f"# unrelated pictures\n{photos}/*.png\n")
    assert train(good_images, penalised, tiny_teachers, *common, "--penalty-images", str(tmp_path / "photos.txt"),
                 "--penalty-weight", "5") == 0
    manifest = json.loads((penalised / "manifest.json").read_text())
    assert manifest["training"]["penalty"]["photos"] == 6 and manifest["training"]["penalty"]["weight"] == 5
    assert json.loads((plain / "manifest.json").read_text())["training"]["penalty"] is None
    # Crops the students never saw: the penalised ones answer them closer to zero.
    photos_read, _, _ = read_all(find_images(photos), False)
    pictures = PictureSampler(photos_read, (40,), seed=99, gray_share=1.0).batch(8)[0]
    assert _output_on(penalised, pictures) < 0.8 * _output_on(plain, pictures)
    # Resuming with another weight would mix two recipes in one set of students.
    capsys.readouterr()
    assert train(good_images, penalised, tiny_teachers, *common[:-2], "--epochs", "4", "--penalty-images", str(photos),
                 "--penalty-weight", "1") == 2
    assert "made with other settings" in (err := capsys.readouterr().err) and "now different: penalty_weight" in err
    # A run from before the penalty is told the one option that resumes it.
    assert train(good_images, plain, tiny_teachers, *common[:-2], "--epochs", "4") == 2
    assert "add --penalty-images none to resume it" in capsys.readouterr().err


@pytest.mark.parametrize("option,expected", [
    (("--penalty-images", "/nonexistent/photos"), "--penalty-images /nonexistent/photos: no such file or folder"),
    (("--penalty-images", "EMPTY"), "no readable image found"),
    (("--penalty-images", "PHOTOS", "--penalty-weight", "-1"), "--penalty-weight -1.0: must be 0 or more"),
])
def test_bad_penalty_options_are_named(tmp_path, good_images, tiny_teachers, photos, capsys, option, expected):
    (tmp_path / "empty").mkdir()
    option = tuple(str(tmp_path / "empty") if o == "EMPTY" else str(photos) if o == "PHOTOS" else o for o in option)
    assert train(good_images, tmp_path / "b", tiny_teachers, "--scales", "33", *option) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_default_penalty_photos_missing_says_what_to_install(tmp_path, good_images, tiny_teachers, capsys, monkeypatch):
    from inspector_training import students
    listed = tmp_path / "photos.txt"
    listed.write_text("/nonexistent/backgrounds/*.jpg\n")
    monkeypatch.setattr(students, "SHIPPED_PHOTO_LIST", listed)
    assert train(good_images, tmp_path / "b", tiny_teachers, "--scales", "33") == 2
    err = capsys.readouterr().err
    assert "sudo apt-get install mate-backgrounds" in err and "--penalty-images none" in err
    assert train(good_images, tmp_path / "b", tiny_teachers, "--scales", "33", "--penalty-images", "none") == 0


@pytest.fixture
def random_trunk(tmp_path):
    """A MobileNetV2 trunk file as `inspector convert-mobilenet` writes one, with random weights."""
    from inspector_training import mobilenet_v2
    torch.manual_seed(0)
    path = tmp_path / "mobilenet_v2.pt"
    mobilenet_v2.save(mobilenet_v2.MobileNetV2Trunk().eval(), "0" * 64, path)
    return path


def train_trunk(good, out, trunk, *extra):
    return main(["train", "--good", str(good), "--out", str(out), "--imagenet-trunk", str(trunk), "--students", "2",
                 "--epochs", "1", "--size", "48", "--batch", "2", "--threads", "2", *extra])


def test_imagenet_trunk_scales_train_export_and_resume(tmp_path, good_images, random_trunk, capsys):
    out = tmp_path / "bundle"
    assert train_trunk(good_images, out, random_trunk) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(s["patch_size"], s["output_stride"], s["output_offset"], s["output_shape"]) for s in manifest["scales"]] == \
        [(59, 8, 7, [1, 1, 6, 6]), (171, 16, 15, [1, 1, 3, 3])]
    assert manifest["descriptor_size"] == 32 and "block_9" in manifest["scales"][1]["teacher"]
    training = manifest["training"]
    assert training["teachers"]["171"]["block"] == 9 and training["penalty"] is None
    model = FusedModel.from_state(torch.load(out / "training" / "fused.pt"))
    error, variance, *_ = model(torch.rand(1, 3, 48, 48) * 255)
    assert error.shape == variance.shape == (1, 1, 6, 6) and (error >= 0).all()
    capsys.readouterr()
    assert train_trunk(good_images, out, random_trunk, "--epochs", "2") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["patch_size"] for e in events if e["event"] == "resumed"] == [59, 171]


@pytest.mark.parametrize("block", [5, 9])
def test_trunk_block_map_element_zero_is_centred_on_the_offset(block):
    """Element 0 of a block map sees input pixels up to offset + (field − 1)/2 and no further."""
    from inspector_training.trunk_scales import TrunkConfig, TrunkLevel, block_geometry
    field, stride = block_geometry(block)
    level = TrunkLevel(TrunkConfig(block)).eval()
    image = torch.zeros(1, 3, 256, 256, requires_grad=True)
    level(image)[0, :, 0, 0].sum().backward()
    reached = image.grad.abs().sum((0, 1, 2)).nonzero().max().item()
    assert reached == level.offset + (field - 1) // 2 and level.offset == stride - 1


@pytest.mark.parametrize("extra,expected", [
    (["--blocks", "11"], "--blocks 11: give MobileNetV2 block numbers from 0 to 10"),
    (["--mode", "dense"], "a MobileNetV2 block has no dense form"),
    (["--crop", "16"], "drop --crop"),
    (["--normalisation", "imagenet"], "needs --normalisation per-image"),
])
def test_bad_imagenet_trunk_options_are_named(tmp_path, good_images, random_trunk, capsys, extra, expected):
    assert train_trunk(good_images, tmp_path / "b", random_trunk, *extra) == 2
    assert expected in capsys.readouterr().err


def test_missing_imagenet_trunk_file_says_how_to_make_it(tmp_path, good_images, capsys):
    assert train_trunk(good_images, tmp_path / "b", tmp_path / "nope.pt") == 2
    assert "inspector convert-mobilenet" in capsys.readouterr().err
