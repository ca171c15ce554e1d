"""Hostile inputs (issue 13): each is handled (a truthful result or a clear
ValueError/TypeError), never silently wrong or unbounded."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch

import spikeinit as si
from spikeinit import LIFParams, neuron, theory
from spikeinit._kernels import numba_backend
from spikeinit.init import functional as F
from spikeinit.params import MAX_KERNEL_STEPS

# -- 1. unbounded memory ------------------------------------------------------------


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"tau_mem": 1e20, "dt": 1e-3}, "tau_mem"),  # beta_mem == 1.0 in float64
        ({"tau_mem": 10.0, "tau_syn": 10.0, "dt": 1e-9}, "tau_mem"),  # the CLI case
        ({"tau_syn": 1e3, "dt": 1e-3}, "tau_syn"),
        ({"tau_mem": 1e308, "dt": 1e-308, "tau_syn": None}, "tau_mem"),  # tau/dt overflows
    ],
)
def test_decay_too_close_to_one_is_refused(kw, field):
    with pytest.raises(ValueError, match=f"{field} must be at most"):
        LIFParams(**kw)


def test_longest_accepted_kernel_is_bounded():
    # the largest accepted time constant still gives a kernel within the bound
    p = LIFParams(tau_mem=100_000e-3 * 0.999, tau_syn=None, dt=1e-3)
    assert p.beta_mem < 1.0
    k = theory.psp_kernel(p)
    assert k.numel() <= MAX_KERNEL_STEPS and torch.isfinite(k).all()


def test_explicit_kernel_duration_is_bounded():
    p = LIFParams()
    with pytest.raises(ValueError, match="duration must be at most"):
        theory.psp_kernel(p, duration=1e6)
    with pytest.raises(ValueError, match="duration must be at most"):
        theory.psp_integrals(p, duration=1e300)


@pytest.mark.parametrize("beta", ["0.9", None, [0.9]])
def test_from_snntorch_beta_type(beta):
    with pytest.raises(TypeError, match="beta"):
        LIFParams.from_snntorch(beta=beta)  # type: ignore[arg-type]


def test_from_snntorch_beta_near_one():
    # the message names the parameter given (issue 28), not the tau_mem derived from it
    with pytest.raises(ValueError, match=r"beta must be in \(0.367879, 0.99999\]"):
        LIFParams.from_snntorch(beta=math.nextafter(1.0, 0.0))


# -- 5. NaN swallowed -----------------------------------------------------------------


def _backends() -> list[str]:
    return ["torch"] + (["numba"] if numba_backend() is not None else [])


@pytest.fixture(params=_backends())
def backend(request):
    previous = neuron.set_kernel_backend(request.param)
    yield request.param
    neuron.set_kernel_backend(previous)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("tau_syn", [None, 10e-3])
def test_non_finite_current_raises_in_every_backend(backend, bad, tau_syn):
    x = torch.rand(20, 3, 4) * 2
    x[7, 1, 2] = bad
    with pytest.raises(ValueError, match="first at time step 7"):
        si.lif_sequence(x, LIFParams(tau_syn=tau_syn))


def test_finite_current_whose_sum_overflows_is_accepted():
    """The finiteness check sums the current first; finite entries whose sum overflows
    float32 (and +inf meeting -inf, whose sum is NaN) still get the exact test."""
    x = torch.full((4, 2, 3), 3.0e38)
    assert not torch.isfinite(x.sum())
    spikes = si.lif_sequence(x, LIFParams())
    assert spikes.shape == x.shape
    x[2, 1, 0], x[3, 0, 1] = math.inf, -math.inf
    with pytest.raises(ValueError, match="first at time step 2"):
        si.lif_sequence(x, LIFParams())


def test_non_finite_state_and_recurrent_weight_raise(backend):
    x = torch.rand(5, 2, 3)
    with pytest.raises(ValueError, match="initial_state"):
        si.lif_sequence(x, LIFParams(), initial_state=(torch.zeros(3), torch.full((3,), math.nan)))
    w = torch.zeros(3, 3)
    w[0, 1] = math.nan
    with pytest.raises(ValueError, match="recurrent weight"):
        si.lif_sequence(x, LIFParams(), recurrent_weight=w)


@pytest.mark.parametrize("sparse", [True, False, None])
def test_nan_input_through_the_sparse_path_raises(sparse):
    torch.manual_seed(0)
    layer = si.nn.SpikingLinear(50, 8, sparse_input=sparse)
    x = (torch.rand(30, 2, 50) < 0.02).float()
    x[4, 0, 3] = math.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        layer(x)


def test_nan_weight_with_silent_input_on_the_sparse_path_is_not_skipped():
    # dense: 0 * NaN = NaN; the event scan skipped zero inputs and so the NaN
    layer = si.nn.SpikingLinear(50, 8, sparse_input=True)
    with torch.no_grad():
        layer.weight[2, 7] = math.nan
    x = torch.zeros(10, 2, 50)
    x[0, 0, 1] = 1.0
    from spikeinit import sparse_input

    out = sparse_input.linear(x.reshape(-1, 50), layer.weight, None, sparse=True)
    assert torch.isnan(out[:, 2]).all()
    with pytest.raises(ValueError, match="NaN or inf"):
        layer(x)


def test_nan_input_through_dale_layer_raises():
    layer = si.nn.DaleLinear(6, 8, 2)
    x = torch.rand(10, 2, 6)
    x[3, 1, 0] = math.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        layer(x)


TRITON_NAN = r"""
import math, torch, spikeinit as si
from spikeinit import neuron
from spikeinit._kernels import triton_backend
neuron.set_kernel_backend("triton")
x = torch.rand(12, 2, 5) * 2
assert neuron._fast_kernel(x, None) is triton_backend()  # really dispatched to Triton
x[3, 1, 2] = math.nan
try:
    si.lif_sequence(x, si.LIFParams())
except ValueError as exc:
    print("raised", exc)
"""


def test_non_finite_current_raises_with_the_triton_backend():
    pytest.importorskip("triton")
    env = dict(os.environ, OMP_NUM_THREADS="1", TRITON_INTERPRET="1")
    out = subprocess.run(
        [sys.executable, "-c", TRITON_NAN], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "raised current contains NaN or inf" in out.stdout


# -- 9. SHD files in the wrong unit, or empty -------------------------------------------


def _write_shd(path, times, units, labels):
    h5py = pytest.importorskip("h5py")
    import numpy as np

    with h5py.File(path, "w") as f:
        n = len(times)
        t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            t[i] = np.asarray(times[i], dtype=np.float32)
            u[i] = np.asarray(units[i], dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
    return path


def _shd_samples(n, scale, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    times = [np.sort(rng.uniform(0, 0.7, 100)) * scale for _ in range(n)]
    units = [rng.integers(0, 700, 100) for _ in range(n)]
    return times, units, rng.integers(0, 20, n)


def test_shd_times_in_milliseconds_are_refused(tmp_path):
    from spikeinit.data import read_shd

    path = _write_shd(tmp_path / "ms.h5", *_shd_samples(8, scale=1000.0))
    with pytest.raises(ValueError, match="are these milliseconds"):
        read_shd(path)
    ok = _write_shd(tmp_path / "s.h5", *_shd_samples(8, scale=1.0))
    store, labels = read_shd(ok)  # the same data in seconds reads
    assert len(labels) == 8 and int(store[torch.arange(8)].sum()) > 8 * 50


def test_shd_mostly_silent_window_is_refused(tmp_path):
    from spikeinit.data import read_shd

    times, units, labels = _shd_samples(8, scale=1.0)
    times = [t + 2.0 for t in times]  # every spike after the 0.7 s window
    path = _write_shd(tmp_path / "late.h5", times, units, labels)
    with pytest.raises(ValueError, match="8 of 8 samples have no spike"):
        read_shd(path)
    empty = _write_shd(tmp_path / "empty.h5", [[]] * 4, [[]] * 4, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="4 of 4 samples have no spike"):
        read_shd(empty)


def test_hand_placed_non_gzip_shd_is_moved_aside_not_deleted(tmp_path, monkeypatch):
    import importlib

    shd_mod = importlib.import_module("spikeinit.data.shd")
    root = tmp_path / "shd"
    root.mkdir()
    bad = root / "shd_train.h5.gz"
    bad.write_bytes(b"my own notes, not gzip")
    with pytest.raises(ValueError, match="moved aside to shd_train.h5.gz.rejected"):
        shd_mod.fetch_shd_file("train", tmp_path, download=False)
    assert (root / "shd_train.h5.gz.rejected").read_bytes() == b"my own notes, not gzip"
    assert not bad.exists() and not (root / "shd_train.h5").exists()
    # again with the checksum check off: not gzip, moved aside as well (a second copy)
    bad.write_bytes(b"again")
    with pytest.raises(ValueError, match="not a valid or complete gzip.*rejected.1"):
        shd_mod.fetch_shd_file("train", tmp_path, download=False, verify=False)
    assert (root / "shd_train.h5.gz.rejected.1").read_bytes() == b"again"


# -- dtypes -------------------------------------------------------------------------------


INITS = {
    "fluctuation_normal_": lambda w, **k: F.fluctuation_normal_(
        w, nu=15.0, params=LIFParams(), **k
    ),
    "micheli_normal_": F.micheli_normal_,
    "micheli_reset_normal_": lambda w, **k: F.micheli_reset_normal_(w, beta=0.9, **k),
    "micheli_finite_width_normal_": F.micheli_finite_width_normal_,
    "kaiming_normal_": F.kaiming_normal_,
    "glorot_normal_": F.glorot_normal_,
    "default_uniform_": F.default_uniform_,
}


@pytest.mark.parametrize("name", sorted(INITS))
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_init_functions_refuse_integer_and_bool_tensors(name, dtype):
    w = torch.zeros(4, 6, dtype=dtype)
    with pytest.raises(TypeError, match=str(dtype)):
        INITS[name](w)


DALE = {"params_exc": LIFParams(tau_syn=10e-3), "params_inh": LIFParams(tau_syn=20e-3), "nu": 15.0}


def test_dale_refuses_integer_tensors():
    with pytest.raises(TypeError, match="torch.int64"):
        F.dale_exponential_(torch.zeros(4, 6, dtype=torch.int64), torch.zeros(4, 2), **DALE)


@pytest.mark.parametrize("name", sorted(INITS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16])
def test_init_functions_fill_other_float_dtypes(name, dtype):
    w = torch.zeros(64, 50, dtype=dtype)
    out = INITS[name](w, generator=torch.Generator().manual_seed(0))
    assert out.dtype == dtype and torch.isfinite(out).all() and float(out.float().std()) > 0


@pytest.mark.parametrize("name", sorted(INITS))
def test_generator_must_be_a_generator(name):
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        INITS[name](torch.zeros(4, 6), generator="abc")


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16])
@pytest.mark.parametrize(
    "make",
    [
        lambda: si.nn.SpikingLinear(6, 5),
        lambda: si.nn.SpikingLinear(6, 5, recurrent=True),
        lambda: si.nn.Readout(6, 5),
        lambda: si.nn.DaleLinear(6, 4, 1),
    ],
)
def test_layers_cast_other_float_inputs_to_their_weight_dtype(make, dtype):
    torch.manual_seed(0)
    layer = make()
    x = (torch.rand(12, 3, 6) < 0.3).float() * 4.0  # exact in every float dtype
    want = layer(x)
    got = layer(x.to(dtype))
    assert got.dtype == want.dtype == torch.float32
    assert torch.equal(got, want)


def test_conv_layer_casts_float64_input():
    layer = si.nn.SpikingConv1d(2, 3, 3)
    x = (torch.rand(5, 2, 2, 10) < 0.3).float()
    assert torch.equal(layer(x.double()), layer(x))


# -- messages that named the wrong thing ------------------------------------------------------


def test_micheli_huge_threshold_is_a_value_error():
    with pytest.raises(ValueError, match="threshold=50 is too large"):
        F.micheli_normal_(torch.zeros(4, 6), threshold=50)
    with pytest.raises(ValueError, match="does not fit in torch.float32"):
        F.micheli_normal_(torch.zeros(4, 6), threshold=30)  # std 1e98: float32 would be inf
    # the same draw fits in float64 and is finite
    w = F.micheli_normal_(torch.zeros(40, 6, dtype=torch.float64), threshold=30)
    assert torch.isfinite(w).all()


@pytest.mark.parametrize("sigma_u", [1e200, 1e300, 1e154])
def test_huge_sigma_u_is_a_value_error(sigma_u):
    with pytest.raises(ValueError, match="sigma_u"):
        F.fluctuation_normal_(torch.zeros(4, 6), nu=15.0, params=LIFParams(), sigma_u=sigma_u)


def test_dale_huge_sigma_u_is_a_value_error():
    with pytest.raises(ValueError, match="do not fit|overflows"):
        F.dale_exponential_(torch.zeros(8, 6), torch.zeros(8, 2), **DALE, sigma_u=1e150)


@pytest.mark.parametrize("labels", [[0, 1, 5, 1], [0, -1, 1, 0]])
def test_labels_out_of_range_in_fit(labels):
    from spikeinit.train import TrainConfig, fit

    x, y = torch.rand(5, 4, 6), torch.tensor(labels)
    model = torch.nn.Sequential(si.nn.SpikingLinear(6, 4), si.nn.Readout(4, 3))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        fit(model, (x, y), config=TrainConfig(epochs=1, batch_size=4, progress=False))


@pytest.mark.parametrize("form", ["covariance", "public"])
def test_micheli_reset_huge_threshold_is_a_value_error(form):
    # found by the property test: threshold 38 made 1 - Phi(theta) = 0 (ZeroDivisionError)
    with pytest.raises(ValueError, match="threshold=38 is too large"):
        F.micheli_reset_normal_(torch.zeros(1, 1), beta=0.0, threshold=38.0, form=form)
