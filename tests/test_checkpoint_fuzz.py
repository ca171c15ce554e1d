"""Fuzz test of the checkpoint loader (issue 13): truncated and byte-flipped files
either load with identical values or raise a clear ValueError; none loads changed
values, and no message advises ``weights_only=False``."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

import spikeinit as si
from spikeinit.train import TrainConfig, Trainer, load_checkpoint, save_checkpoint


def _raw(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def _same(a, b) -> bool:
    """Independent deep equality: tensors bit for bit (dtype and shape too)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(
                a.view(torch.uint8) if a.dim() else a, b.view(torch.uint8) if b.dim() else b
            )
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, dict]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(si.nn.SpikingLinear(6, 5), si.nn.Readout(5, 3))
    trainer = Trainer(model, TrainConfig(epochs=1, progress=False))
    state = trainer.state_dict()
    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    save_checkpoint(state, path)
    return path, load_checkpoint(path)


def _variants(data: bytes, n_trunc: int, n_flip: int, seed: int):
    rng = random.Random(seed)
    n = len(data)
    cuts = sorted({0, 1, n // 2, n - 22, n - 1} | {rng.randrange(n) for _ in range(n_trunc)})
    for cut in cuts[:n_trunc]:
        yield f"truncated at {cut}", data[:cut]
    for _ in range(n_flip):
        pos = rng.randrange(n)
        buf = bytearray(data)
        if rng.random() < 0.5:
            buf[pos] ^= 1 << rng.randrange(8)  # one bit
        else:
            buf[pos] ^= rng.randrange(1, 256)  # one byte
        yield f"flipped at {pos}", bytes(buf)


def _fuzz(path: Path, reference: dict, tmp_path: Path, n_trunc: int, n_flip: int, seed: int):
    data = path.read_bytes()
    loaded_same = refused = 0
    target = tmp_path / "fuzzed.pt"
    for what, blob in _variants(data, n_trunc, n_flip, seed):
        target.write_bytes(blob)
        try:
            got = load_checkpoint(target)
        except ValueError as exc:
            msg = str(exc)
            assert "weights_only" not in msg and "\n" not in msg, (what, msg)
            assert str(target) in msg, (what, msg)
            refused += 1
            continue
        assert _same(got, reference), f"{what}: loaded with changed values"
        loaded_same += 1
    return loaded_same, refused


def test_fuzzed_checkpoints_never_load_changed_values(checkpoint, tmp_path):
    path, reference = checkpoint
    same, refused = _fuzz(path, reference, tmp_path, n_trunc=120, n_flip=260, seed=1)
    assert same + refused == 380
    assert refused >= 300  # almost every damage is detected, not just harmless


def test_fuzzed_checkpoints_without_digest_rely_on_the_zip_crcs(checkpoint, tmp_path):
    # a checkpoint written before the digest existed: the zip CRCs alone must hold
    path, reference = checkpoint
    old = dict(reference)
    del old["digest"]
    legacy = tmp_path / "legacy.pt"
    torch.save(old, legacy)
    same, refused = _fuzz(legacy, old, tmp_path, n_trunc=40, n_flip=120, seed=2)
    assert same + refused == 160


def test_tampered_value_with_valid_zip_is_refused(checkpoint, tmp_path):
    # a rewritten file (valid zip, valid CRCs) with one weight changed: the digest catches it
    path, reference = checkpoint
    state = dict(reference)
    model = {k: v.clone() for k, v in state["model"].items()}
    key = next(iter(model))
    model[key].view(-1)[0] += 1.0
    state["model"] = model
    bad = tmp_path / "tampered.pt"
    torch.save(state, bad)
    with pytest.raises(ValueError, match="digest does not match"):
        load_checkpoint(bad)


def test_pickle_with_objects_is_refused_without_weights_only_advice(tmp_path):
    bad = tmp_path / "evil.pt"
    torch.save({"format": "spikeinit.checkpoint", "obj": Path("x")}, bad)
    with pytest.raises(ValueError) as exc:
        load_checkpoint(bad)
    assert "weights_only" not in str(exc.value)
