"""Every neuron class that snnTorch, Norse, SpikingJelly and sinabs ship, found by introspection
(issue 25): each is either in the adapters' supported table, or refused, in a tiny model,
with a ``ValueError`` that names the module, its class, why, and the way forward. No
neuron is ever passed through silently as if it were not one.

The classes are found from the installed packages, not from spikeinit's lists:

* snnTorch: every ``SpikingNeuron`` subclass, and every module class of
  ``snntorch._neurons`` (``LeakyParallel`` and ``LeakyKernel`` have no such base);
* Norse: the module classes of ``norse.torch.module`` that derive from its ``SNN*``
  bases or carry a neuron model's name (``CobaLIFCell``, ``LIFCorrelation``), and the
  ``CubaLIF`` of its NIR import; encoders (``ConstantCurrentLIFEncoder``) are not neurons;
* SpikingJelly: every module class of ``activation_based.neuron`` and the spiking RNNs
  of ``activation_based.rnn``;
* sinabs: every subclass of ``sinabs.layers.StatefulLayer`` (the base of its neurons)
  defined in ``sinabs.layers`` (``sinabs.backend`` is not walked: its DynapCNN part
  imports samna, whose PyPI package tries to install itself from another index).

Abstract bases (``SpikingNeuron``, ``SNNCell``, ``BaseNode``, ``SpikingRNNBase``, ...)
are left out: they are not neurons a model holds.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

import spikeinit as si
from spikeinit.adapters import supported_neurons

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> Iterator[object]:
    pkg = importlib.import_module(package)
    yield pkg
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), package + "."):
        if ".test" in info.name:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield importlib.import_module(info.name)
        except Exception:  # an optional backend (CUDA, Lynxi, ...) that is not installed
            continue


def _module_classes(package: str) -> list[type[nn.Module]]:
    found: dict[str, type[nn.Module]] = {}
    for mod in _modules(package):
        for obj in vars(mod).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, nn.Module)
                and obj.__module__.startswith(package)
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def snntorch_neurons() -> list[type[nn.Module]]:
    snn = pytest.importorskip("snntorch")
    classes = set(_module_classes("snntorch._neurons"))
    classes |= {
        c for c in _all_subclasses(snn.SpikingNeuron) if c.__module__.startswith("snntorch")
    }
    parts = {"RecurrentOneToOne"}  # the one-to-one recurrent connection inside RLeaky/RSynaptic
    bases = {"SpikingNeuron", "LIF"}
    return sorted(
        (c for c in classes if c.__name__ not in parts | bases),
        key=lambda c: (c.__module__, c.__name__),
    )


NORSE_NAME = re.compile(r"LIF|^LI|IAF|Izhikevich|LSNN|AdEx")


def norse_neurons() -> list[type[nn.Module]]:
    pytest.importorskip("norse.torch")
    from norse.torch.module.snn import SNN, SNNCell, SNNRecurrent, SNNRecurrentCell

    bases = (SNN, SNNCell, SNNRecurrent, SNNRecurrentCell)
    out = []
    for c in _module_classes("norse.torch.module"):
        if c in bases or c.__name__.endswith(("Encoder", "Decoder")):
            continue
        if issubclass(c, bases) or NORSE_NAME.search(c.__name__):
            out.append(c)
    try:
        from norse.torch.utils.import_nir import CubaLIF

        out.append(CubaLIF)
    except ImportError:  # pragma: no cover - older Norse
        pass
    return out


def spikingjelly_neurons() -> list[type[nn.Module]]:
    pytest.importorskip("spikingjelly.activation_based.neuron")
    classes = _module_classes("spikingjelly.activation_based.neuron")
    classes += [
        c
        for c in _module_classes("spikingjelly.activation_based.rnn")
        if c.__name__.startswith("Spiking")
    ]
    return [c for c in classes if "Base" not in c.__name__ and not c.__name__.startswith("_")]


def sinabs_neurons() -> list[type[nn.Module]]:
    layers = pytest.importorskip("sinabs.layers")
    return [
        c
        for c in _module_classes("sinabs.layers")
        if issubclass(c, layers.StatefulLayer) and c is not layers.StatefulLayer
    ]


FRAMEWORKS = {
    "snntorch": snntorch_neurons,
    "norse": norse_neurons,
    "spikingjelly": spikingjelly_neurons,
    "sinabs": sinabs_neurons,
}
#: where the classes that the supported table names live, per framework
TOP_LEVEL = {
    "snntorch": ("snntorch",),
    "norse": ("norse.torch",),
    "spikingjelly": ("spikingjelly.activation_based.neuron",),
    # ALIFSqueeze is not re-exported by sinabs.layers
    "sinabs": ("sinabs.layers", "sinabs.layers.alif"),
}
#: constructor arguments for classes that have no default for them
ARGS = {"SpikingLSTM": (4, 4), "SpikingGRU": (4, 4), "SpikingVanillaRNN": (4, 4)}


def _instance(cls: type[nn.Module]) -> nn.Module:
    """The class with its default arguments, or, where it needs arguments, a module of
    that class set up by its nearest base that needs none (spikeinit's refusal reads the
    class, not the attributes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return cls(*ARGS.get(cls.__name__, ()))
        except Exception:
            bare = cls.__new__(cls)
            for base in cls.__mro__[1:]:
                try:
                    base.__init__(bare)  # type: ignore[misc]
                    break
                except Exception:
                    continue
            return bare


def _is_supported_class(framework: str, cls: type) -> bool:
    homes = [importlib.import_module(m) for m in TOP_LEVEL[framework]]
    return cls.__name__ in supported_neurons()[framework] and any(
        getattr(home, cls.__name__, None) is cls for home in homes
    )


def _refusal(neuron: nn.Module) -> str:
    model = nn.Sequential(nn.Linear(4, 4), neuron)
    x = (torch.rand(3, 2, 4) < 0.5).float()
    with pytest.raises(ValueError) as err:
        si.initialize(model, x, time_dim=0, seed=0)
    with pytest.raises(ValueError):
        si.initialize(model, None, method="micheli", seed=0)  # no data: refused too
    return str(err.value)


def _check_framework(framework: str) -> tuple[int, int]:
    classes = FRAMEWORKS[framework]()
    assert len(classes) >= 5, classes
    supported = refused = 0
    for cls in classes:
        if _is_supported_class(framework, cls):
            supported += 1
            continue
        msg = _refusal(_instance(cls))
        # names the module, its framework and class, why, and the way forward
        assert f"'1' ({framework} {cls.__name__})" in msg, (cls, msg)
        assert "does not support" in msg and "adapter" in msg, (cls, msg)
        assert "si.register_neuron(cls, adapter)" in msg, (cls, msg)
        assert "data-independent rule" in msg, (cls, msg)
        refused += 1
    assert supported == len(supported_neurons()[framework])  # every listed class is found
    print(f"{framework}: {len(classes)} neuron classes, {supported} supported, {refused} refused")
    return supported, refused


#: (supported, refused) for the versions docs/interop.md's table is written for
COUNTS = {
    "snntorch": ("1.0.0", (8, 7)),
    "norse": ("1.1.0", (29, 9)),
    "spikingjelly": ("2.0.0", (9, 37)),
    "sinabs": ("2.0.3", (11, 0)),
}


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_every_framework_neuron_is_supported_or_refused_by_name(framework: str) -> None:
    counts = _check_framework(framework)
    from importlib.metadata import version

    tested, expected = COUNTS[framework]
    if version(framework) == tested:  # other versions ship other classes
        assert counts == expected, (framework, counts)


def test_supported_table_in_interop_md_is_the_adapters() -> None:
    text = (ROOT / "docs" / "interop.md").read_text()
    section = text.split("## Supported neurons", 1)[1].split("\n## ", 1)[0]
    for framework, names in supported_neurons().items():
        row = next(line for line in section.splitlines() if line.startswith(f"| {framework} "))
        assert re.findall(r"`(\w+)`", row.split("|")[2]) == list(names), (framework, row)


class LIFTorch(nn.Module):
    """Stands for a neuron of a spiking framework that spikeinit has no adapter for."""

    __module__ = "rockpool.nn.modules.torch.lif_torch"

    def __init__(self) -> None:
        super().__init__()
        self.threshold = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).float()


class SumPool2d(nn.AvgPool2d):
    __module__ = "rockpool.nn.modules.torch.pool"


def test_a_model_of_a_framework_without_adapter_is_named() -> None:
    model = nn.Sequential(nn.Linear(4, 4), LIFTorch(), nn.Linear(4, 2), LIFTorch())
    with pytest.raises(ValueError) as err:
        si.initialize(model, torch.rand(3, 2, 4), time_dim=0)
    msg = str(err.value)
    assert "rockpool, a spiking framework spikeinit has no adapter for" in msg
    assert "'1' (rockpool LIFTorch)" in msg and "'3' (rockpool LIFTorch)" in msg
    assert "si.register_neuron" in msg


def test_a_framework_without_adapter_next_to_known_neurons_is_refused() -> None:
    snn = pytest.importorskip("snntorch")
    model = nn.Sequential(
        nn.Linear(4, 4), snn.Leaky(beta=0.9, init_hidden=True), nn.Linear(4, 2), LIFTorch()
    )
    with pytest.raises(ValueError, match=r"rockpool.*'3' \(rockpool LIFTorch\).*next to neurons"):
        si.initialize(model, torch.rand(3, 2, 4), time_dim=0)
    # a non-neuron module of such a framework (pooling) does not stop a known model
    ok = nn.Sequential(nn.Linear(4, 4), snn.Leaky(beta=0.9, init_hidden=True))
    ok.add_module("pool", SumPool2d(1))
    from spikeinit.adapters.find import check_supported

    assert [n for n, _ in check_supported(ok)] == ["1"]


class MyNeuron(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.threshold = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).float()


def test_an_unknown_neuron_is_named_by_class() -> None:
    model = nn.Sequential(nn.Linear(4, 4), MyNeuron(), nn.Linear(4, 2))
    with pytest.raises(ValueError) as err:
        si.initialize(model, torch.rand(3, 2, 4), time_dim=0)
    msg = str(err.value)
    assert "look like neurons but are of no known class: '1' (MyNeuron)" in msg
    assert "si.register_neuron(cls, adapter)" in msg and "docs/interop.md" in msg
    assert "'0'" not in msg and "'2'" not in msg  # Linear layers are not named
