"""Training a user's own model (snnTorch, Norse, SpikingJelly) the way its tutorial trains it.

The :class:`~spikeinit.train.Trainer` trains a module that maps a batch to a
trace ``[T, B, C]``. :class:`ForeignClassifier` makes any framework model such a
module, following the output conventions of the frameworks' own tutorials:

====================================  ==========================================  ============
the model returns                     the trace                                    default loss
====================================  ==========================================  ============
spikes ``[T, B, C]`` (0/1)            the spikes                                   ``rate_ce``
``(spikes, membrane)`` (snnTorch)     the spikes (``output="membrane"``: the       ``rate_ce``
                                      membrane)                                    (``step_ce``)
a real-valued ``[T, B, C]`` (Norse    the trace                                    ``max``
LI voltages)
``(out, state)`` (Norse cells)        ``out``, as above
``[B, C]`` in [0, 1] (SpikingJelly    ``[1, B, C]``                                ``rate_mse``
firing rate ``mean_t S``)
any other ``[B, C]`` (logits, Norse   ``[1, B, C]``                                ``mean`` (CE)
``log_softmax`` of the max)
====================================  ==========================================  ============

``rate_ce`` is snnTorch's ``SF.ce_rate_loss()``, ``step_ce`` tutorial 5's
cross-entropy of the membrane at every step, ``rate_mse`` SpikingJelly's MSE of
the firing rate against the one-hot label, ``max`` Norse's max-over-time
log-softmax (:mod:`spikeinit.losses`). Every state the model keeps between calls
(snnTorch ``init_hidden`` neurons, SpikingJelly memories) is reset before each
batch, as the tutorials' ``utils.reset`` / ``functional.reset_net`` do.

**How the model is called** is found as :func:`spikeinit.initialize` finds it
(:func:`spikeinit.adapters.find.conventional_forward`): a model that loops over
time itself is called once on the batch; an ``nn.Sequential`` of one-step
neurons is looped over a time-first batch. A one-step model fed a *static*
batch (snnTorch tutorial 6's ``forward_pass(net, num_steps, data)``) needs the
number of steps: ``repeat_steps=T`` feeds the same batch T times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .adapters import find as _find
from .catalog import OUTPUTS

__all__ = ["OUTPUTS", "ForeignClassifier", "default_loss", "select_output"]

Call = Callable[[nn.Module, Any], Any]


def _tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [o for o in out if isinstance(o, torch.Tensor)]
    return []


def select_output(out: Any, output: str = "auto") -> torch.Tensor:
    """The trace ``[T, B, C]`` of a model output (module docstring's table).

    ``output="membrane"`` takes the second of two equally shaped tensors
    (snnTorch's ``(spikes, membrane)`` records).
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
    tensors = _tensors(out)
    if not tensors:
        raise ValueError(
            "the model returned "
            f"{type(out).__name__}, not a tensor or a tuple of tensors: spikeinit cannot "
            "read its classes; return the output spikes / membrane [T, B, C] or [B, C]"
        )
    first = tensors[0]
    if output == "membrane":
        same = [t for t in tensors[1:] if t.shape == first.shape]
        if not same:
            raise ValueError(
                "output='membrane' needs a (spikes, membrane) pair of equal shapes; the model "
                f"returned shapes {[tuple(t.shape) for t in tensors]}"
            )
        first = same[0]
    if first.dim() == 2:
        return first.unsqueeze(0)
    if first.dim() == 3:
        return first
    raise ValueError(
        f"the model's output has shape {tuple(first.shape)}; expected [T, B, C] or [B, C] "
        "(pass --loss FILE.py:FUNCTION with a loss of your own for other outputs)"
    )


def default_loss(trace: torch.Tensor, output: str = "auto") -> str:
    """The loss of the tutorials for a trace (module docstring's table)."""
    if output == "membrane":
        return "step_ce"
    t = trace.detach()
    binary = bool(((t == 0) | (t == 1)).all())
    if trace.shape[0] == 1:
        return "rate_mse" if bool(((t >= 0) & (t <= 1)).all()) else "mean"
    return "rate_ce" if binary else "max"


def _repeat(x: torch.Tensor, steps: int) -> torch.Tensor:
    return x.unsqueeze(0).expand(steps, *x.shape)


class ForeignClassifier(nn.Module):
    """``x -> trace [T, B, C]`` for a framework model ``net`` (module docstring).

    Args:
        net: the user's model.
        example: one batch as the data yields it (to find how ``net`` is called).
        output: ``"auto"``, ``"spikes"`` or ``"membrane"`` (:func:`select_output`).
        repeat_steps: feed a static batch this many times to a one-step model.
        forward: ``forward(net, x)``, overriding how the model is called.
    """

    def __init__(
        self,
        net: nn.Module,
        example: torch.Tensor,
        output: str = "auto",
        repeat_steps: int | None = None,
        forward: Call | None = None,
    ) -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
        if repeat_steps is not None and (
            isinstance(repeat_steps, bool) or not isinstance(repeat_steps, int) or repeat_steps < 1
        ):
            raise ValueError(f"repeat_steps must be an integer >= 1, got {repeat_steps!r}")
        self.net = net
        self.output = output
        self.repeat_steps = repeat_steps
        self.call = forward or self._find_call(net, example, repeat_steps)

    @staticmethod
    def _find_call(net: nn.Module, example: torch.Tensor, steps: int | None) -> Call:
        if steps is not None:
            if not _find.is_one_step(net, example):
                raise ValueError(
                    "repeat_steps feeds a static batch to a model whose forward is one time "
                    "step (neurons with init_hidden=True, SpikingJelly single-step); this "
                    "model's forward runs over time itself: leave repeat_steps out"
                )

            def repeated(model: nn.Module, x: torch.Tensor) -> Any:
                return _find.time_loop(model, _repeat(x, steps))

            return repeated
        return _find.conventional_forward(net, example) or _find.default_forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _find.reset_states(self.net)
        return select_output(self.call(self.net, x), self.output)
