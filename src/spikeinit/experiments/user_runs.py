"""One training run of a user's own model on the user's own data (``--model FILE.py:FUNCTION``).

The counterpart of :func:`spikeinit.experiments.presets.run` for a model and
data named by entry points (:mod:`spikeinit.entry_points`), so that ``train``,
``compare``, ``sweep`` (in-process or on Ray) run them through the same engine:

1. ``torch.manual_seed(seed)``, then the model factory (its own initial draw is
   the framework default) and the data factory;
2. the initialisation: ``init="default"`` keeps the factory's draw; any other
   rule is :func:`spikeinit.initialize` on the first ``init_samples`` training
   samples, with the model called as it is trained (:class:`ForeignClassifier`);
3. training with :class:`spikeinit.train.Trainer` (checkpoints, resume, lock,
   divergence checks, progress bar), the loss named by ``loss`` or, for
   ``"auto"``, the tutorials' loss for the model's output
   (:func:`spikeinit.foreign_training.default_loss`), stated in the record.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ..diagnostics import diagnose
from ..entry_points import call_data_factory, call_model_factory
from ..foreign_training import ForeignClassifier, default_loss
from ..init.model import initialize
from ..train import TrainConfig, fit
from .common import activity_probe, spec_dict


def _first_batches(loader: Any, n_samples: int) -> list[torch.Tensor]:
    """Inputs of the first batches of ``loader`` up to ``n_samples`` samples (the caller's
    random state untouched: a shuffling loader draws from a forked generator)."""
    out: list[torch.Tensor] = []
    total = 0
    with torch.random.fork_rng(devices=[]):
        for batch in loader:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError(
                    f"--data: each batch must be a pair (x, y), got {type(batch).__name__}"
                )
            x, y = batch[0], batch[1]
            if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
                raise TypeError(
                    "--data: batches must be (x, y) tensors, got "
                    f"({type(x).__name__}, {type(y).__name__})"
                )
            out.append(x.float() if not x.is_floating_point() else x)
            total += int(y.shape[0]) if y.dim() else 1
            if total >= n_samples:
                break
    if not out:
        raise ValueError("--data: the training loader yielded no batches")
    return out


def decoded_readout(spec: Any) -> Any:
    """The output-layer rule: ``readout="auto"`` with ``--output membrane`` (the loss reads
    the output layer's membrane, as snnTorch's tutorial 5) is ``"membrane"``; the trace
    alone sees both spikes and membrane returned (docs/science.md, 'Output layers')."""
    if spec.readout == "auto" and spec.output == "membrane":
        return "membrane"
    return spec.readout


def build_user(
    spec: Any, split: str = "train"
) -> tuple[Any, ForeignClassifier, list[Any], dict[str, Any]]:
    """``(net, classifier, batches, loaders)``: the user's model as its factory draws it
    (seeded), the way it is called, the first ``init_samples`` samples of the ``split``
    loader, and the loaders by split (``"test"`` may be ``None``)."""
    torch.manual_seed(spec.seed)
    net = call_model_factory(spec.model, spec.model_kw)
    parts = call_data_factory(spec.dataset, spec.dataset_kw)
    loaders = dict(zip(("train", "val", "test"), parts, strict=True))
    batches = _first_batches(loaders[split] or loaders["val"], spec.init_samples)
    clf = ForeignClassifier(net, batches[0], output=spec.output, repeat_steps=spec.repeat_steps)
    return net, clf, batches, loaders


def user_run(
    spec: Any,
    out: str | Path,
    device: str = "cpu",
    resume: bool = False,
    progress: bool = True,
    diagnose_init: bool = False,
    on_epoch_end: Any = None,
) -> dict[str, Any]:
    """Build, initialise and train a user's model; the record of ``presets.run``."""
    net, clf, batches, loaders = build_user(spec)
    train, val, test = loaders["train"], loaders["val"], loaders["test"]
    t0 = time.perf_counter()
    if spec.init == "default":
        report: dict[str, Any] = {"method": "default", "rule": "the factory's own draw"}
    else:
        report = initialize(
            net, batches, method=spec.init, sigma_u=spec.sigma_u, mu_u=spec.mu_u,
            seed=spec.seed, forward=clf.call, readout=decoded_readout(spec),  # type: ignore[arg-type]
        ).to_dict()  # fmt: skip
    report["seconds"] = time.perf_counter() - t0
    diagnosis = diagnose(net, batches, forward=clf.call).to_dict() if diagnose_init else None
    loss = spec.loss
    if loss == "auto":
        with torch.no_grad():
            loss = default_loss(clf(batches[0]), spec.output)
    cfg = TrainConfig(
        epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, optimizer=spec.optimizer,
        loss=loss, schedule=spec.schedule, seed=spec.seed, device=device, progress=progress,
    )  # fmt: skip
    identity = {"spec": {k: v for k, v in spec_dict(spec).items() if k != "epochs"}}
    probe = activity_probe(
        spec.diagnose_every, lambda: diagnose(net, batches, forward=clf.call)
    )
    result = fit(
        clf, train, val, test if test is not None else val, config=cfg, out_dir=out,
        resume=resume, identity=identity, on_epoch_end=on_epoch_end, epoch_probe=probe,
    )  # fmt: skip
    summary = {
        "data": spec.dataset,
        "model": spec.model,
        "loss": loss,
        "output": spec.output,
        "call": getattr(clf.call, "__name__", "forward"),
        "test_split": "test" if test is not None else "val (the factory gave two loaders)",
    }
    res: dict[str, Any] = {
        "metrics": result.metrics(),
        "history": result.history,
        "init": report,
        "dataset": summary,
    }
    if diagnosis is not None:
        res["initial_diagnosis"] = diagnosis
    return res
