"""The names spikeinit offers, importable without torch.

The command line builds its parsers from this module before it imports torch,
so that a usage error is reported at once. It holds:

* :data:`INIT_RULES`, the registry of initialisation rules: per rule its name,
  its aliases, whether it is data-dependent, whether :func:`spikeinit.initialize`
  accepts it (``model=True``) or only the propagation experiment does, and where
  its tensor-level function lives (``"module:attr"``, loaded on first use by
  :mod:`spikeinit.init.registry`);
* the names of the datasets, zoo models, optimisers, learning-rate schedules and
  losses, which tests check against the torch-side registries
  (:func:`spikeinit.data.names`, :func:`spikeinit.models.names`,
  :data:`spikeinit.optim.OPTIMIZERS`, ...).

**Adding an initialisation rule** means writing its tensor-level function
``rule(w, ctx) -> w`` (``ctx`` a :class:`spikeinit.init.registry.RuleContext`)
in its family's module of ``spikeinit/init/rules/`` and adding one
:class:`RuleEntry` line below (docs/where-things-live.md).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DATASETS",
    "DATASET_ALIASES",
    "INIT_RULES",
    "LOSSES",
    "MICHELI_INPUT_WIDTH",
    "MODELS",
    "OPTIMIZERS",
    "OUTPUTS",
    "PROPAGATION_BIASES",
    "PROPAGATION_INPUTS",
    "PROPAGATION_NEURONS",
    "RESET_FORMS",
    "SCHEDULES",
    "RuleEntry",
    "init_aliases",
    "init_names",
    "resolve_init",
]


@dataclass(frozen=True)
class RuleEntry:
    """One initialisation rule, by name.

    Attributes:
        name: the canonical name (``method=`` of :func:`spikeinit.initialize`,
            ``--init`` of the commands).
        function: ``"module:attr"`` of the rule: its tensor-level function
            ``rule(w, ctx) -> w``, or a ``LayerRule`` (that function with its layer
            hook and what foreign models take; see :mod:`spikeinit.init.registry`).
        data_dependent: the rule needs the presynaptic activity (``ctx.presyn``).
        aliases: other names accepted for it.
        model: accepted by :func:`spikeinit.initialize` and the training commands;
            ``False``: the propagation experiment only.
    """

    name: str
    function: str
    data_dependent: bool = False
    aliases: tuple[str, ...] = ()
    model: bool = True


_RULES = "spikeinit.init.rules"

#: the registry of initialisation rules, in the order the commands list them
INIT_RULES: tuple[RuleEntry, ...] = (
    RuleEntry("fluctuation", f"{_RULES}.fluctuation:FLUCTUATION", data_dependent=True),
    RuleEntry("micheli", f"{_RULES}.micheli:micheli"),
    RuleEntry("micheli_reset", f"{_RULES}.micheli:micheli_reset", aliases=("micheli-reset",)),
    RuleEntry("micheli_finite", f"{_RULES}.micheli:micheli_finite"),
    RuleEntry("kaiming", f"{_RULES}.baselines:kaiming", aliases=("he",)),
    RuleEntry("glorot", f"{_RULES}.baselines:glorot", aliases=("xavier",)),
    RuleEntry("default", f"{_RULES}.baselines:default"),
    RuleEntry("perez_nieves", f"{_RULES}.perez_nieves:PEREZ_NIEVES", data_dependent=True),
    RuleEntry("balanced", f"{_RULES}.balanced:balanced", model=False),
    RuleEntry("balanced_cal", f"{_RULES}.balanced:balanced_cal", data_dependent=True, model=False),
)


def init_names(*, model_only: bool = True, aliases: bool = False) -> tuple[str, ...]:
    """Canonical rule names (those :func:`spikeinit.initialize` takes, unless
    ``model_only=False``), followed by their aliases if ``aliases=True``."""
    rules = [r for r in INIT_RULES if r.model or not model_only]
    out = [r.name for r in rules]
    if aliases:
        out += [a for r in rules for a in r.aliases]
    return tuple(out)


def init_aliases(*, model_only: bool = True) -> dict[str, str]:
    """``{alias: canonical name}``."""
    return {a: r.name for r in INIT_RULES if r.model or not model_only for a in r.aliases}


def resolve_init(name: str, *, model_only: bool = True, what: str = "--init") -> str:
    """The canonical name of ``name`` (an alias or a name); ``ValueError`` naming
    ``what`` and the allowed names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__}")
    name = init_aliases(model_only=model_only).get(name, name)
    if name not in init_names(model_only=model_only):
        allowed = sorted(init_names(model_only=model_only, aliases=True))
        raise ValueError(f"{what} must be one of {allowed}, got {name!r}")
    return name


#: canonical dataset names (:func:`spikeinit.data.names`), in its order
DATASETS: tuple[str, ...] = (
    "randman",
    "digits",
    "mnist5k",
    "mnist",
    "fashion_mnist",
    "cifar10",
    "shd",
    "dvs_gesture",
)
#: other spellings :func:`spikeinit.data.load` accepts
DATASET_ALIASES: dict[str, str] = {
    "fmnist": "fashion_mnist",
    "fashion-mnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
    "mnist_5k": "mnist5k",
    "cifar-10": "cifar10",
    "dvs": "dvs_gesture",
    "dvsgesture": "dvs_gesture",
    "dvs-gesture": "dvs_gesture",
}
#: zoo model names (:func:`spikeinit.models.names`), sorted
MODELS: tuple[str, ...] = (
    "dale_shd",
    "deep_conv",
    "dvs_conv",
    "fc",
    "micheli_cnn",
    "micheli_mlp",
    "recurrent",
    "recurrent_conv_shd",
)
#: :data:`spikeinit.optim.OPTIMIZERS`
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "smorms3")
#: :data:`spikeinit.optim.SCHEDULES`
SCHEDULES: tuple[str, ...] = ("none", "cosine", "cosine_batch")
#: which part of a user's model output is decoded (spikeinit.foreign_training.select_output)
OUTPUTS: tuple[str, ...] = ("auto", "spikes", "membrane")

#: the keys of :data:`spikeinit.losses.LOSSES`, in the order the commands list them
LOSSES: tuple[str, ...] = ("max", "mean", "sum", "count", "rate_ce", "step_ce", "rate_mse")
#: forms of the reset-aware Micheli rule: the covariance form (5.41) or the public code's
RESET_FORMS: tuple[str, ...] = ("covariance", "public")
#: ``spikeinit propagation --input``: Micheli's static image, fresh Gaussian current, Bernoulli
PROPAGATION_INPUTS: tuple[str, ...] = ("static", "gaussian", "poisson")
#: ``--neuron``: snnTorch's Leaky (undecayed subtract reset, Micheli's) or spikeinit's
PROPAGATION_NEURONS: tuple[str, ...] = ("snntorch", "reference")
#: ``--bias``: PyTorch's nn.Linear default bias U(+-1/sqrt(n)) (Micheli's) or none
PROPAGATION_BIASES: tuple[str, ...] = ("default", "none")
#: width of Micheli's input LIF layer (MNIST's 784 pixels)
MICHELI_INPUT_WIDTH = 784
