"""Export a trained FusedModel as a bundle: one ONNX graph plus manifest.json."""
from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from pathlib import Path

import torch

from .errors import UserError
from .fused import FusedModel
from .images import sha256_file
from .trunk_scales import TrunkLevel

BUNDLE_FORMAT = "inspector-bundle"
BUNDLE_VERSION = 1
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
INPUT_NAME = "image"
MIN_OPSET = 10  # dilated MaxPool of the dense network


def export_bundle(model: FusedModel, out: Path, size: int, colour: str, training: dict, opset: int = 13) -> Path:
    if opset < MIN_OPSET:
        raise UserError("OPSET_TOO_LOW", f"--opset {opset}: the dense network needs ONNX opset {MIN_OPSET} or later.")
    if model.mode == "dense" and any(isinstance(h.teacher, TrunkLevel) for h in model.heads.values()):
        raise UserError("DENSE_TRUNK", "--mode dense: the MobileNetV2 block scales (--imagenet-trunk) have no dense "
                        "form; export them --mode strided.")
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    onnx_path = out / MODEL_FILE
    temporary = out / (MODEL_FILE + ".tmp")
    dummy = torch.zeros(1, 3, size, size)
    names = model.output_names()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's exporter warns about constant folding it skips
            torch.onnx.export(model, dummy, str(temporary), input_names=[INPUT_NAME], output_names=names,
                              opset_version=opset, do_constant_folding=True,
                              dynamic_axes={INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in names}})
        os.replace(temporary, onnx_path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise UserError("WRITE_FAILED", f"{onnx_path}: cannot write ({err.strerror}).")
    with torch.no_grad():
        shapes = [list(t.shape) for t in model(dummy)[::2]]
    scales = []
    for p, shape in zip(model.patch_sizes, shapes):
        head = model.heads[str(p)]
        trunk = isinstance(head.teacher, TrunkLevel)
        scales.append({
            "patch_size": p,
            "output_stride": 1 if model.mode == "dense" else head.teacher.stride,
            # Where element 0 of the map sits in input pixels (0: on pixel 0, as for patch networks).
            "output_offset": head.teacher.offset if trunk else 0,
            "output_shape": [1, 1, *shape[2:]],
            "outputs": {"error": f"e_{p}", "variance": f"v_{p}"},
            "students": len(head.students),
            "width": head.teacher.config.width,
            **({"teacher": f"ImageNet MobileNetV2 (nsfwjs@4.4.0) up to block_{head.teacher.config.block}"} if trunk else {}),
        })
    descriptor = model.heads[str(model.patch_sizes[0])].teacher.config.descriptor_size
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "method": "student-teacher (Bergmann et al., CVPR 2020)",
        "input": {"name": INPUT_NAME, "shape": [1, 3, size, size], "dtype": "float32", "layout": "NCHW",
                  "range": [0, 255], "channel_order": "RGB", "colour": colour,
                  "resize": "bilinear", "normalisation": NORMALISATION_TEXT[model.normalisation]},
        "mode": model.mode,
        "scales": scales,
        "descriptor_size": descriptor,
        "opset": opset,
        "training": training,
        "files": {MODEL_FILE: sha256_file(onnx_path)},
    }
    manifest_path = out / MANIFEST_FILE
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest_path


NORMALISATION_TEXT = {"imagenet": "inside the graph (ImageNet mean/std)",
                      "per-image": "inside the graph (per image: mean 0, std 1 over all pixels)"}


def write_reference(bundle: Path, out: Path, seed: int = 0) -> None:
    """PyTorch's outputs on a seeded random image, as raw float32 files, to check the ONNX graph against."""
    state = torch.load(bundle / "training" / "fused.pt", map_location="cpu")
    model = FusedModel.from_state(state)
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(*manifest["input"]["shape"], generator=generator) * 255
    with torch.no_grad():
        outputs = model(image)
    out.mkdir(parents=True, exist_ok=True)
    index = {"input": {"file": "input.bin", "shape": list(image.shape)}, "outputs": {}}
    image.numpy().astype("<f4").tofile(out / "input.bin")
    for name, tensor in zip(model.output_names(), outputs):
        tensor.numpy().astype("<f4").tofile(out / f"{name}.bin")
        index["outputs"][name] = {"file": f"{name}.bin", "shape": list(tensor.shape)}
    (out / "reference.json").write_text(json.dumps(index, indent=2) + "\n")


def reexport(sources: list[Path], out: Path, mode: str, scales: list[int] | None, opset: int) -> Path:
    """A new bundle from trained ones' weights: another mode (dense/strided), a subset of the scales,
    or the scales of several bundles fused into one graph (trained separately, on the same images
    and input size) — the same students evaluated differently, without retraining."""
    from . import checkpoints
    from .fused import FusedModel
    heads: dict = {}
    manifests = []
    for source in sources:
        fused_file = source / "training" / "fused.pt"
        if not fused_file.is_file():
            raise UserError("NO_TRAINING_STATE", f"{fused_file}: missing. Re-exporting needs the bundle's training/ "
                            "folder, which stays on the machine that trained it.")
        if out.resolve() == source.resolve():
            raise UserError("SAME_FOLDER", "--out must be a new folder: a source bundle keeps its own graph.")
        manifest = json.loads((source / MANIFEST_FILE).read_text())
        if manifests and (manifest["input"]["shape"] != manifests[0]["input"]["shape"]
                          or manifest["input"]["colour"] != manifests[0]["input"]["colour"]
                          or manifest["input"]["normalisation"] != manifests[0]["input"]["normalisation"]):
            raise UserError("BUNDLES_DIFFER", f"{source}: input {manifest['input']['shape']} {manifest['input']['colour']} "
                            f"({manifest['input']['normalisation']}) differs from {sources[0]}'s; only bundles with the same input "
                            "can be fused.")
        manifests.append(manifest)
        model = FusedModel.from_state(checkpoints.load(fused_file))
        normalisation = model.normalisation
        for p in model.patch_sizes:
            heads.setdefault(p, model.heads[str(p)])
    chosen = scales or sorted(heads)
    missing = [p for p in chosen if p not in heads]
    if missing:
        raise UserError("SCALE_NOT_TRAINED", f"{', '.join(map(str, sources))} hold students for "
                        f"p={','.join(map(str, sorted(heads)))}, not p={','.join(map(str, missing))}. Train those scales first.")
    subset = FusedModel({p: heads[p] for p in chosen}, mode, normalisation)  # type: ignore[arg-type]
    origin = [{"bundle": str(s), "mode": m["mode"], "scales": [x["patch_size"] for x in m["scales"]]}
              for s, m in zip(sources, manifests)]
    training = {**manifests[0]["training"], "exported_from": origin if len(origin) > 1 else origin[0]}
    if len(manifests) > 1:
        training["fused_trainings"] = [m["training"] for m in manifests]
    (out / "training").mkdir(parents=True, exist_ok=True)
    checkpoints.save(subset.state(), out / "training" / "fused.pt", 0)
    return export_bundle(subset, out, manifests[0]["input"]["shape"][2], manifests[0]["input"]["colour"], training, opset)
