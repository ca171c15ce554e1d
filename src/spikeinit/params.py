"""Neuron parameters: :class:`LIFParams`, a validated frozen dataclass.

The reference neuron is the current-based LIF of docs/science.md, section
'The reference neuron', with the input applied in the same step (as snnTorch
and SpikingJelly do)::

    beta_s = exp(-dt / tau_syn)        beta_m = exp(-dt / tau_mem)
    I[t] = beta_s * I[t-1] + x[t]
    U[t] = beta_m * V[t-1] + g * I[t]          g = input_scale (default 1 - beta_m)
    S[t] = H(U[t] - theta)
    V[t] = U[t] * (1 - S[t])   |   U[t] - theta * S[t]   |   U[t]

With ``tau_syn=None`` (delta synapse) the input enters the membrane directly:
``U[t] = beta_m * V[t-1] + g * x[t]`` with default ``g = 1``; this is
snnTorch's ``Leaky`` with the zero reset.

``convention`` selects the update order of another framework (docs/science.md,
section 'Neuron conventions')::

    "spikeinit": as above (the reset is applied before the decay)
    "snntorch":  U[t] = beta_m U[t-1] + g I[t] - theta S[t-1]   (subtract reset
                 applied after the decay; zero and none as "spikeinit")
    "stork":     S[t] = H(U[t-1] - theta)                        (spike from the previous membrane)
                 U[t] = reset(beta_m U[t-1] + g I[t-1], S[t])     (previous current; the
                                                                  reset also drops that drive)
                 I[t] = beta_s I[t-1] + x[t-1]                   (input one step late, as
                                                                  stork's connections deliver it)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from ._validate import positive_finite

Reset = Literal["zero", "subtract", "none"]
RESET_MODES: tuple[str, ...] = ("zero", "subtract", "none")
Convention = Literal["spikeinit", "snntorch", "stork"]
#: update orders of :class:`LIFParams` (docs/science.md, section 'Neuron conventions')
CONVENTIONS: tuple[str, ...] = ("spikeinit", "snntorch", "stork")

#: Longest PSP kernel (in steps) that :mod:`spikeinit.theory` builds. The
#: default kernel spans ``10 * max(tau_mem, tau_syn)``, so :class:`LIFParams`
#: accepts time constants up to ``MAX_KERNEL_STEPS / 10 = 100_000`` steps
#: (decays ``beta <= exp(-1e-5) ~ 0.99999``); longer ones would make the kernel,
#: and every loop over it, unbounded (a decay that rounds to 1.0 never decays).
MAX_KERNEL_STEPS: int = 1_000_000
MAX_TAU_STEPS: float = MAX_KERNEL_STEPS / 10


def _check_tau_steps(name: str, tau: float, dt: float) -> None:
    # tau / dt bounds the PSP kernel's length; beta = exp(-dt / tau) == 1.0 in
    # float64 (no decay at all) happens far beyond this bound.
    if tau / dt > MAX_TAU_STEPS or math.exp(-dt / tau) >= 1.0:
        raise ValueError(
            f"{name} must be at most {MAX_TAU_STEPS:g} steps of dt (= {dt!r} s), i.e. "
            f"<= {MAX_TAU_STEPS * dt:g} s, got {tau!r} s ({tau / dt:.3g} steps): its decay "
            f"exp(-dt/{name}) is too close to 1 for a bounded PSP kernel "
            f"(spikeinit.params.MAX_KERNEL_STEPS = {MAX_KERNEL_STEPS})"
        )


def _tau_of_decay(name: str, value: object, decay: float, dt: float, allowed: str) -> float:
    """``tau = -dt / ln(decay)`` for a framework's parameter ``name`` that gives the
    per-step ``decay``; ``ValueError`` naming ``name`` (and its ``allowed`` range in its
    own units) unless ``dt < tau <= MAX_TAU_STEPS dt``, what :class:`LIFParams` holds."""
    lo, hi = math.exp(-1.0), math.exp(-1.0 / MAX_TAU_STEPS)
    if not (lo < decay <= hi):
        raise ValueError(
            f"{name} must be in {allowed} with dt = {dt!r} s, got {value!r}: it gives a decay "
            f"of {decay:.6g} per step, and spikeinit needs a time constant above one step (decay > "
            f"{lo:.4f}) and at most {MAX_TAU_STEPS:g} steps (decay <= {hi:.6f})"
        )
    return -dt / math.log(decay)


def _decay_range(to_param: Callable[[float], float], increasing: bool, fmt: str = ".6g") -> str:
    """The range of a framework parameter whose decay lies in ``(exp(-1), exp(-1/MAX)]``."""
    a, b = to_param(math.exp(-1.0)), to_param(math.exp(-1.0 / MAX_TAU_STEPS))
    return f"({a:{fmt}}, {b:{fmt}}]" if increasing else f"[{b:{fmt}}, {a:{fmt}})"


@dataclass(frozen=True)
class LIFParams:
    """Parameters of a leaky integrate-and-fire neuron (seconds throughout).

    Attributes:
        tau_mem: membrane time constant in seconds, ``dt < tau_mem <=
            MAX_TAU_STEPS * dt`` (100,000 steps, see :data:`MAX_KERNEL_STEPS`).
        tau_syn: synaptic time constant in seconds (same range), or ``None`` for a
            delta synapse (input goes straight into the membrane).
        dt: simulation step in seconds, > 0.
        threshold: firing threshold theta (membrane units), > 0.
        reset: ``"zero"`` (V = U(1 - S)), ``"subtract"`` (V = U - theta S) or
            ``"none"``.
        input_scale: gain g applied to the synaptic current when it enters the
            membrane. ``None`` selects the reference convention: ``1 - beta_m``
            for a current synapse and ``1`` for a delta synapse. Other
            frameworks need other values (see the ``from_*`` constructors).
        convention: the update order, ``"spikeinit"`` (default), ``"snntorch"``
            (the subtract reset is not decayed) or ``"stork"`` (spike from the
            previous membrane, input one step late, the reset drops that step's
            drive); see the module docstring and docs/science.md, section
            'Neuron conventions'. Sub-threshold dynamics (the PSP kernel) are the
            same in all three, up to stork's delay of two steps.
    """

    tau_mem: float = 20e-3
    tau_syn: float | None = 10e-3
    dt: float = 1e-3
    threshold: float = 1.0
    reset: Reset = "zero"
    input_scale: float | None = None
    convention: Convention = "spikeinit"

    def __post_init__(self) -> None:
        positive_finite("dt", self.dt)
        positive_finite("tau_mem", self.tau_mem)
        if self.dt >= self.tau_mem:
            raise ValueError(f"tau_mem must be > dt (= {self.dt!r} s), got {self.tau_mem!r} s")
        _check_tau_steps("tau_mem", self.tau_mem, self.dt)
        if self.tau_syn is not None:
            positive_finite("tau_syn", self.tau_syn)
            if self.dt >= self.tau_syn:
                raise ValueError(
                    f"tau_syn must be > dt (= {self.dt!r} s) or None, got {self.tau_syn!r} s"
                )
            _check_tau_steps("tau_syn", self.tau_syn, self.dt)
        positive_finite("threshold", self.threshold)
        if self.reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, got {self.reset!r}")
        if self.input_scale is not None:
            positive_finite("input_scale", self.input_scale)
        if self.convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {self.convention!r}")

    # -- derived quantities -------------------------------------------------
    @property
    def beta_mem(self) -> float:
        """Membrane decay per step, ``exp(-dt / tau_mem)``."""
        return math.exp(-self.dt / self.tau_mem)

    @property
    def beta_syn(self) -> float:
        """Synaptic decay per step, ``exp(-dt / tau_syn)``; 0 for a delta synapse."""
        return 0.0 if self.tau_syn is None else math.exp(-self.dt / self.tau_syn)

    @property
    def gain(self) -> float:
        """Input gain ``g`` of the membrane update (see the module docstring)."""
        if self.input_scale is not None:
            return self.input_scale
        return 1.0 if self.tau_syn is None else 1.0 - self.beta_mem

    @property
    def delta_synapse(self) -> bool:
        return self.tau_syn is None

    def replace(self, **changes: object) -> LIFParams:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- other frameworks ---------------------------------------------------
    @classmethod
    def from_snntorch(
        cls,
        beta: float,
        threshold: float = 1.0,
        reset_mechanism: str = "subtract",
        alpha: float | None = None,
        dt: float = 1e-3,
        convention: Convention = "snntorch",
    ) -> LIFParams:
        """snnTorch ``Leaky`` (``alpha=None``) or ``Synaptic`` (synaptic decay ``alpha``).

        snnTorch: ``U[t] = beta U[t-1] + I[t] - theta S[t-1]`` with no ``(1 - beta)``
        input scale. The decays map to time constants through the chosen
        ``dt``: ``tau_mem = -dt / ln(beta)``, ``tau_syn = -dt / ln(alpha)``,
        and ``input_scale = 1``. ``reset_mechanism`` "subtract"/"zero"/"none"
        maps one to one. snnTorch subtracts the reset *after* the decay (the
        reset is not decayed); ``convention="snntorch"`` (default) reproduces
        that, spike for spike; ``convention="spikeinit"`` gives the reference
        neuron's decayed reset instead (docs/science.md, section 'Neuron
        conventions'). Sub-threshold dynamics, and so the PSP kernel, are identical.
        """
        for name, value in (("beta", beta), ("alpha", alpha)):
            if value is None and name == "alpha":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a real number in (0, 1), got {value!r}")
            if not (0.0 < value < 1.0):
                raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        positive_finite("dt", dt)
        positive_finite("threshold", threshold)
        allowed = _decay_range(lambda d: d, True)
        tau_mem = _tau_of_decay("beta", beta, float(beta), dt, allowed)
        tau_syn = None if alpha is None else _tau_of_decay("alpha", alpha, alpha, dt, allowed)
        return cls(
            tau_mem=tau_mem,
            tau_syn=tau_syn,
            dt=dt,
            threshold=threshold,
            reset=_reset_name(reset_mechanism),
            input_scale=1.0,
            convention=convention,
        )

    @classmethod
    def from_stork(
        cls,
        tau_mem: float = 10e-3,
        tau_syn: float = 5e-3,
        dt: float = 1e-3,
        threshold: float = 1.0,
    ) -> LIFParams:
        """stork's ``LIFGroup`` (defaults are stork's; its threshold is fixed at 1).

        stork (``fmi-basel/stork``, ``nodes/lif/base.py``), one call per step::

            S[t] = H(U[t-1] - 1)
            U[t] = (exp(-dt/tau_mem) U[t-1] + (1 - exp(-dt/tau_mem)) I[t-1]) (1 - S[t])
            I[t] = exp(-dt/tau_syn) I[t-1] + x[t-1]

        where ``x[t-1]`` is what its connections delivered after the previous
        step. The decays and the gain ``1 - beta_m`` are spikeinit's reference
        ones; only the order differs: ``convention="stork"`` with the zero
        (multiplicative) reset (docs/science.md, section 'Neuron conventions').
        """
        return cls(
            tau_mem=tau_mem,
            tau_syn=tau_syn,
            dt=dt,
            threshold=threshold,
            reset="zero",
            convention="stork",
        )

    @classmethod
    def from_norse(
        cls,
        dt: float = 1e-3,
        tau_mem_inv: float = 100.0,
        tau_syn_inv: float | None = 200.0,
        v_th: float = 1.0,
    ) -> LIFParams:
        """Norse ``LIFParameters`` (forward Euler, hard reset to 0).

        Norse: ``v += dt tau_mem_inv (i - v)``, ``i -= dt tau_syn_inv i``. The
        Euler decays ``1 - dt/tau`` are matched exactly:
        ``tau = -dt / ln(1 - dt * tau_inv)``, and the input gain is Norse's
        ``dt * tau_mem_inv``. ``tau_syn_inv=None`` gives a delta synapse (Norse ``LIF``
        has a current synapse; ``LIFBox`` does not). Defaults are Norse's.
        """
        positive_finite("dt", dt)
        positive_finite("v_th", v_th)
        taus: dict[str, float | None] = {}
        for name, value in (("tau_mem_inv", tau_mem_inv), ("tau_syn_inv", tau_syn_inv)):
            if value is None:
                taus[name] = None
                continue
            positive_finite(name, value)
            if dt * value >= 1.0:
                raise ValueError(f"{name} * dt must be < 1, got {name}={value!r} with dt={dt!r}")
            allowed = _decay_range(lambda d: (1.0 - d) / dt, False) + " (1/s)"
            taus[name] = _tau_of_decay(name, value, 1.0 - dt * value, dt, allowed)
        tau_mem = taus["tau_mem_inv"]
        tau_syn = taus["tau_syn_inv"]
        assert tau_mem is not None
        return cls(
            tau_mem=tau_mem,
            tau_syn=tau_syn,
            dt=dt,
            threshold=v_th,
            reset="zero",
            input_scale=dt * tau_mem_inv,
        )

    @classmethod
    def from_spikingjelly(
        cls,
        tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        dt: float = 1e-3,
    ) -> LIFParams:
        """SpikingJelly ``LIFNode`` (tau in steps, delta synapse).

        SpikingJelly: ``H = V + (X - V)/tau`` (``decay_input=True``) or
        ``H = V - V/tau + X`` (``decay_input=False``). So ``beta_m = 1 - 1/tau``,
        ``tau_mem = -dt / ln(1 - 1/tau)``, and ``input_scale`` is ``1/tau`` or 1.
        ``v_reset=None`` is a soft (subtract) reset, a value a hard reset (only
        0 maps exactly to ``reset="zero"``).
        """
        if isinstance(tau, bool) or not isinstance(tau, (int, float)):
            raise TypeError(f"tau must be a real number > 1 (in steps), got {tau!r}")
        if not tau > 1.0:
            raise ValueError(f"tau must be > 1 (in steps), got {tau!r}")
        positive_finite("dt", dt)
        positive_finite("v_threshold", v_threshold)
        allowed = _decay_range(lambda d: 1.0 / (1.0 - d), True, ".7g") + " (steps)"
        tau_mem = _tau_of_decay("tau", tau, 1.0 - 1.0 / tau, dt, allowed)
        if v_reset not in (None, 0.0):
            raise ValueError(
                f"v_reset must be None (soft reset) or 0.0 (hard reset to zero), got {v_reset!r}"
            )
        return cls(
            tau_mem=tau_mem,
            tau_syn=None,
            dt=dt,
            threshold=v_threshold,
            reset="subtract" if v_reset is None else "zero",
            input_scale=1.0 / tau if decay_input else 1.0,
        )


def _reset_name(mechanism: str) -> Reset:
    if mechanism not in RESET_MODES:
        raise ValueError(f"reset_mechanism must be one of {RESET_MODES}, got {mechanism!r}")
    return mechanism  # type: ignore[return-value]
