"""The fused numba LIF backend against the autograd reference and the pure-torch loop.

Spikes must be identical, membranes within 1e-6 and gradients within 1e-5, for
every reset mode, both synapse types, recurrent on/off, detach_reset on/off and
every surrogate; unsupported cases must fall back to the torch loop.
"""

import itertools

import pytest
import torch
from reference import lif_reference

from spikeinit import LIFParams, lif_sequence, neuron
from spikeinit._kernels import numba_backend
from spikeinit.surrogate import SURROGATES

pytestmark = pytest.mark.skipif(numba_backend() is None, reason="numba not installed")

RESETS = ["zero", "subtract", "none"]
SYNAPSES = [10e-3, None]


@pytest.fixture
def backend():
    """Run a block under a chosen backend, restoring the previous choice after."""
    previous = neuron.get_kernel_backend()
    yield neuron.set_kernel_backend
    neuron.set_kernel_backend(previous)


def _case(reset, tau_syn, recurrent, shape=(30, 4, 9), seed=0):
    p = LIFParams(tau_mem=20e-3, tau_syn=tau_syn, dt=1e-3, reset=reset)
    g = torch.Generator().manual_seed(seed)
    scale = 8.0 if tau_syn is not None else 0.5
    x = torch.randn(shape, generator=g) * scale + 0.3
    n = shape[-1]
    w = torch.randn(n, n, generator=g) * 0.3 if recurrent else None
    i0 = torch.randn(shape[1:], generator=g) * 0.2
    v0 = torch.rand(shape[1:], generator=g) * 0.5
    return p, x, w, i0, v0


def _run(fn, p, x, w, i0, v0, surrogate, detach, grads=("spk", "mem")):
    leaves = [t.clone().requires_grad_() for t in (x, i0, v0)]
    wl = w.clone().requires_grad_() if w is not None else None
    if fn is None:
        spk, mem = lif_reference(
            leaves[0], p, surrogate=surrogate, detach_reset=detach, w_rec=wl,
            i0=leaves[1], v0=leaves[2],
        )  # fmt: skip
    else:
        spk, mem = lif_sequence(
            leaves[0], p, surrogate=surrogate, detach_reset=detach, recurrent_weight=wl,
            initial_state=(leaves[1], leaves[2]), return_mem=True,
        )  # fmt: skip
    gen = torch.Generator().manual_seed(7)
    g_spk, g_mem = torch.randn(spk.shape, generator=gen), torch.randn(mem.shape, generator=gen)
    loss = (spk * g_spk).sum() * ("spk" in grads) + (mem * g_mem).sum() * ("mem" in grads)
    loss.backward()
    out = [spk.detach(), mem.detach()]
    for t in leaves + ([wl] if wl is not None else []):
        out.append(t.grad if t.grad is not None else torch.zeros_like(t))
    return out


def _assert_match(a, b):
    assert torch.equal(a[0], b[0]), "spikes differ"
    torch.testing.assert_close(a[1], b[1], atol=1e-6, rtol=0)
    for ga, gb in zip(a[2:], b[2:], strict=True):
        torch.testing.assert_close(ga, gb, atol=1e-5, rtol=1e-5)


CASES = list(itertools.product(RESETS, SYNAPSES, [False, True], [True, False]))


@pytest.mark.parametrize("reset,tau_syn,recurrent,detach", CASES)
def test_numba_matches_reference_and_torch(backend, reset, tau_syn, recurrent, detach):
    p, x, w, i0, v0 = _case(reset, tau_syn, recurrent)
    ref = _run(None, p, x, w, i0, v0, "superspike", detach)
    assert 0.02 < ref[0].mean() < 0.98
    backend("numba")
    fast = _run(lif_sequence, p, x, w, i0, v0, "superspike", detach)
    backend("torch")
    slow = _run(lif_sequence, p, x, w, i0, v0, "superspike", detach)
    _assert_match(fast, ref)
    _assert_match(fast, slow)


@pytest.mark.parametrize("surrogate,recurrent", list(itertools.product(SURROGATES, [False, True])))
def test_numba_surrogates(backend, surrogate, recurrent):
    p, x, w, i0, v0 = _case("subtract", 10e-3, recurrent, seed=3)
    ref = _run(None, p, x, w, i0, v0, surrogate, False)
    backend("numba")
    fast = _run(lif_sequence, p, x, w, i0, v0, surrogate, False)
    _assert_match(fast, ref)
    assert fast[2].abs().sum() > 0


@pytest.mark.parametrize("grads", [("spk",), ("mem",)])
@pytest.mark.parametrize("recurrent", [False, True])
def test_numba_one_output_used(backend, grads, recurrent):
    """Only spikes (a hidden layer) or only U (a readout) receive gradients."""
    p, x, w, i0, v0 = _case("zero", None, recurrent, seed=5)
    ref = _run(None, p, x, w, i0, v0, "superspike", True, grads)
    backend("numba")
    _assert_match(_run(lif_sequence, p, x, w, i0, v0, "superspike", True, grads), ref)


def test_numba_conv_shaped_and_chunked(backend):
    """[T, B, C, H, W] input, several chunks per thread with a ragged last one."""
    backend("numba")
    p, x, _, i0, v0 = _case("subtract", 10e-3, False, shape=(12, 3, 5, 7, 11), seed=6)
    ref = _run(None, p, x, None, i0, v0, "atan", True)
    _assert_match(_run(lif_sequence, p, x, None, i0, v0, "atan", True), ref)


def test_numba_default_state_noncontiguous_and_no_grad(backend):
    backend("numba")
    p = LIFParams(reset="zero")
    base = torch.randn(5, 20, 6) * 8 + 0.3
    x = base.transpose(0, 1)  # [T=20, B=5, N=6], non-contiguous
    ref, _ = lif_reference(x, p)
    with torch.no_grad():
        assert torch.equal(lif_sequence(x, p), ref)


def test_only_membrane_saved_for_backward(backend):
    backend("numba")
    x = (torch.randn(10, 2, 4) * 8).requires_grad_()
    spk = lif_sequence(x, LIFParams())
    saved = spk.grad_fn.saved_tensors
    assert [t.shape for t in saved] == [x.shape, torch.Size([0])]


def test_fallback_for_unsupported_cases(backend):
    backend("auto")
    w = torch.zeros(3, 3)
    assert neuron._fast_kernel(torch.zeros(2, 2, 3), None) is not None
    assert neuron._fast_kernel(torch.zeros(2, 2, 3), w) is not None
    assert neuron._fast_kernel(torch.zeros(2, 2, 3, dtype=torch.float64), None) is None
    assert neuron._fast_kernel(torch.zeros(2, 2, 3), w.double()) is None
    assert neuron._fast_kernel(torch.zeros(2, 2, 3, dtype=torch.bfloat16), None) is None
    assert neuron._fast_kernel(torch.zeros(2, 2, 3, device="meta"), None) is None
    backend("torch")
    assert neuron._fast_kernel(torch.zeros(2, 2, 3), None) is None


def test_float64_falls_back_and_matches(backend):
    backend("auto")
    p, x, w, i0, v0 = _case("zero", 10e-3, True, seed=8)
    x, w, i0, v0 = (t.double() for t in (x, w, i0, v0))
    _assert_match(_run(lif_sequence, p, x, w, i0, v0, "sigmoid", False),
                  _run(None, p, x, w, i0, v0, "sigmoid", False))  # fmt: skip


def test_set_kernel_backend_validates(backend):
    with pytest.raises(ValueError, match="kernel backend"):
        backend("cuda-magic")
    assert backend("torch") in neuron.KERNEL_BACKENDS
    assert neuron.get_kernel_backend() == "torch"


def test_every_numba_kernel_compiles_with_the_numpy_error_model():
    """Numba's default error model tests every division for zero (to raise), which keeps
    LLVM from vectorising the loops that evaluate a surrogate derivative; the kernels
    ask for IEEE semantics instead (spikeinit._kernels, module docstring). Every
    compiled entry point, module-level or made by a factory, must say so."""
    import importlib
    import pkgutil

    import numba.core.registry

    import spikeinit._kernels as kernels

    found = []
    for info in pkgutil.iter_modules(kernels.__path__):
        if not info.name.endswith("_numba"):
            continue
        mod = importlib.import_module(f"spikeinit._kernels.{info.name}")
        for name, obj in vars(mod).items():
            if not isinstance(obj, numba.core.registry.CPUDispatcher):
                continue
            if obj.targetoptions.get("inline", "never") == "always":
                continue  # compiled as part of its caller
            found.append(name)
            assert obj.targetoptions.get("error_model") == "numpy", f"{info.name}.{name}"
        for make in ("_make_forward", "_make_backward"):
            if hasattr(mod, make):
                made = getattr(mod, make)(*_factory_key(mod, make))
                found.append(f"{make} ({info.name})")
                assert made.targetoptions.get("error_model") == "numpy", f"{info.name}.{make}"
    assert len(found) >= 10


def _factory_key(mod, make):
    """Arguments for a kernel factory (the compiled specialisation is not called)."""
    import inspect

    return tuple(0 for _ in inspect.signature(getattr(mod, make)).parameters)
