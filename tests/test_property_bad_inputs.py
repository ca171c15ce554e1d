"""Property-based hostile inputs (issue 13): random bad values for ``LIFParams`` and the
``si.init`` tensor functions. Every call either returns a finite, truthful result or
raises ``ValueError`` / ``TypeError``; nothing else (no ZeroDivisionError,
OverflowError, IndexError, RuntimeError, no hang, no inf/NaN weights)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikeinit import LIFParams, theory
from spikeinit.init import functional as F
from spikeinit.params import MAX_KERNEL_STEPS

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: numbers at and beyond every edge, and values of the wrong type
bad_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, -1.0, 1e-320, 1e-300, 1e-9, 1.0, 1.5, 50.0, 1e20, 1e200, 1e308]),
    st.sampled_from([1.0 - 1e-6, 1.0 - 1e-12, math.nextafter(1.0, 0.0), 1e154, 1e160, 37.0]),
    st.integers(min_value=-(10**30), max_value=10**30),
)
wrong_types = st.one_of(
    st.booleans(), st.text(max_size=4), st.none(), st.lists(st.floats(), max_size=2)
)
hostile = st.one_of(bad_numbers, bad_numbers, wrong_types)

ALLOWED = (ValueError, TypeError)


def one_hostile(good: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """Keyword arguments: all good but one (or two) drawn from ``hostile``, so that
    each bad value is met with otherwise valid arguments."""

    def build(keys: list[str]) -> st.SearchStrategy[dict]:
        return st.fixed_dictionaries({k: (hostile if k in keys else v) for k, v in good.items()})

    names = sorted(good)
    return st.lists(st.sampled_from(names), min_size=0, max_size=2, unique=True).flatmap(build)


# -- LIFParams ---------------------------------------------------------------------------

good_time = st.floats(min_value=1e-4, max_value=0.1)


LIF_GOOD = {
    "tau_mem": st.floats(min_value=1e-4, max_value=0.1),
    "tau_syn": st.one_of(st.none(), good_time),
    "dt": st.floats(min_value=1e-5, max_value=1e-3),
    "threshold": st.floats(min_value=0.1, max_value=10),
    "input_scale": st.one_of(st.none(), st.floats(min_value=0.01, max_value=2)),
}


@SETTINGS
@given(kw=one_hostile(LIF_GOOD), reset=st.sampled_from(["zero", "subtract", "none", "hard"]))
def test_lif_params_accept_only_sound_values(kw, reset):
    tau_mem, tau_syn, dt = kw["tau_mem"], kw["tau_syn"], kw["dt"]
    threshold, input_scale = kw["threshold"], kw["input_scale"]
    try:
        p = LIFParams(
            tau_mem=tau_mem,
            tau_syn=tau_syn,
            dt=dt,
            threshold=threshold,
            reset=reset,
            input_scale=input_scale,
        )
    except ALLOWED:
        return
    # accepted: every derived quantity is finite and in its range
    assert 0.0 < p.beta_mem < 1.0
    assert 0.0 <= p.beta_syn < 1.0
    assert math.isfinite(p.gain) and p.gain > 0
    assert math.isfinite(p.threshold) and p.threshold > 0
    steps = theory._kernel_steps(p, None)
    assert 1 <= steps <= MAX_KERNEL_STEPS
    if steps <= 20_000:
        k = theory.psp_kernel(p)
        assert torch.isfinite(k).all() and float(k[0]) == pytest.approx(p.gain)


@SETTINGS
@given(beta=hostile, alpha=st.one_of(st.none(), hostile), dt=st.one_of(st.just(1e-3), hostile))
def test_from_snntorch_accepts_only_sound_values(beta, alpha, dt):
    try:
        p = LIFParams.from_snntorch(beta=beta, alpha=alpha, dt=dt)
    except ALLOWED:
        return
    assert p.beta_mem == pytest.approx(beta, rel=1e-9)
    assert 0.0 < p.beta_mem < 1.0


# -- si.init tensor functions ------------------------------------------------------------------

dtypes = st.sampled_from(
    [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.bool]
)
shapes = st.one_of(
    st.tuples(st.integers(1, 40), st.integers(1, 40)),
    st.tuples(st.integers(0, 3)),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 3)),
)


def _tensor(shape, dtype):
    return torch.zeros(shape, dtype=dtype)


def _check_filled(w: torch.Tensor, out: object, std: float | None) -> None:
    assert out is w
    assert w.is_floating_point() and torch.isfinite(w).all()
    if std is not None and w.numel() >= 800 and w.dtype in (torch.float32, torch.float64):
        # truthful: the draw has the standard deviation the rule states
        assert float(w.double().std()) == pytest.approx(std, rel=0.15)


def _fan_in(w: torch.Tensor) -> int:
    return int(w.shape[1] * math.prod(w.shape[2:]))


@SETTINGS
@given(
    shape=shapes,
    dtype=dtypes,
    threshold=st.one_of(st.just(1.0), hostile),
    generator=st.one_of(st.none(), st.just("abc"), st.integers(0, 3)),
)
def test_micheli_normal(shape, dtype, threshold, generator):
    w = _tensor(shape, dtype)
    try:
        out = F.micheli_normal_(w, threshold=threshold, generator=generator)
    except ALLOWED:
        return
    _check_filled(w, out, math.sqrt(F.micheli_variance(_fan_in(w), threshold)))


@SETTINGS
@given(
    shape=shapes,
    dtype=dtypes,
    kw=one_hostile(
        {"nu": st.floats(1.0, 100.0), "sigma_u": st.floats(0.1, 3.0), "mu_u": st.floats(-1.0, 0.5)}
    ),
)
def test_fluctuation_normal(shape, dtype, kw):
    nu, sigma_u, mu_u = kw["nu"], kw["sigma_u"], kw["mu_u"]
    w = _tensor(shape, dtype)
    p = LIFParams()
    try:
        out = F.fluctuation_normal_(w, nu=nu, params=p, sigma_u=sigma_u, mu_u=mu_u)
    except ALLOWED:
        return
    _, sd = F.fluctuation_moments(_fan_in(w), sigma_u=sigma_u, mu_u=mu_u, nu=nu, params=p)
    _check_filled(w, out, sd)


@SETTINGS
@given(
    shape=shapes,
    dtype=dtypes,
    kw=one_hostile({"beta": st.floats(0.0, 0.99), "threshold": st.floats(0.1, 3.0)}),
    form=st.sampled_from(["covariance", "public", "other"]),
)
def test_micheli_reset_normal(shape, dtype, kw, form):
    beta, threshold = kw["beta"], kw["threshold"]
    w = _tensor(shape, dtype)
    try:
        out = F.micheli_reset_normal_(w, beta=beta, threshold=threshold, form=form)
    except ALLOWED:
        return
    var = F.micheli_reset_variance(_fan_in(w), beta, threshold, form)
    _check_filled(w, out, math.sqrt(var))


@SETTINGS
@given(
    shape=shapes,
    dtype=dtypes,
    name=st.sampled_from(["kaiming", "glorot", "default"]),
    generator=st.one_of(st.none(), st.just("abc"), st.just(1.5)),
)
def test_baselines(shape, dtype, name, generator):
    fn = {"kaiming": F.kaiming_normal_, "glorot": F.glorot_normal_, "default": F.default_uniform_}[
        name
    ]
    w = _tensor(shape, dtype)
    try:
        out = fn(w, generator=generator)
    except ALLOWED:
        return
    n_in = _fan_in(w)
    n_out = int(w.shape[0] * math.prod(w.shape[2:]))
    std = {
        "kaiming": math.sqrt(2 / n_in),
        "glorot": math.sqrt(2 / (n_in + n_out)),
        "default": math.sqrt(1 / (3 * n_in)),
    }[name]
    _check_filled(w, out, std)


@SETTINGS
@given(
    shape=shapes,
    dtype=dtypes,
    threshold=st.one_of(st.just(1.0), hostile),
    n_bootstrap=st.one_of(st.just(20), hostile),
    p_floor=st.one_of(st.none(), hostile),
)
def test_micheli_finite_width(shape, dtype, threshold, n_bootstrap, p_floor):
    w = _tensor(shape, dtype)
    try:
        out = F.micheli_finite_width_normal_(
            w, threshold=threshold, n_bootstrap=n_bootstrap, p_floor=p_floor
        )
    except ALLOWED:
        return
    _check_filled(w, out, None)


@SETTINGS
@given(
    n_exc=st.integers(1, 30),
    n_in=st.integers(1, 30),
    dtype=dtypes,
    kw=one_hostile(
        {
            "nu": st.floats(1.0, 100.0),
            "sigma_u": st.floats(0.1, 3.0),
            "alpha": st.floats(0.05, 0.95),
        }
    ),
    recurrent=st.booleans(),
)
def test_dale_exponential(n_exc, n_in, dtype, kw, recurrent):
    nu, sigma_u, alpha = kw["nu"], kw["sigma_u"], kw["alpha"]
    w_exc, w_inh = _tensor((n_exc, n_in), dtype), _tensor((n_exc, 4), dtype)
    w_rec = _tensor((n_exc, n_exc), dtype) if recurrent else None
    try:
        lam = F.dale_exponential_(
            w_exc,
            w_inh,
            params_exc=LIFParams(tau_syn=10e-3),
            params_inh=LIFParams(tau_syn=20e-3),
            nu=nu,
            sigma_u=sigma_u,
            w_rec_exc=w_rec,
            alpha=alpha,
        )
    except ALLOWED:
        return
    for w in (w_exc, w_inh) + ((w_rec,) if w_rec is not None else ()):
        assert torch.isfinite(w).all() and (w >= 0).all()
    assert math.isfinite(lam.lambda_ff) and lam.lambda_ff > 0
