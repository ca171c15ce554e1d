"""The Triton LIF backend against the pure-torch loop.

Without a GPU the kernels run in Triton's interpreter on CPU tensors
(``TRITON_INTERPRET=1``, which must be set before the kernels are defined, so
the comparison runs in a subprocess). With a GPU the same comparison also runs
natively on CUDA, and ``lif_sequence`` must dispatch to Triton there.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")

import spikeinit as si  # noqa: E402
from spikeinit import neuron  # noqa: E402

COMPARE = r"""
import itertools, sys, warnings
import torch
import spikeinit as si
from spikeinit import neuron
from spikeinit._kernels import triton_backend
from spikeinit.surrogate import Surrogate

warnings.simplefilter("ignore", RuntimeWarning)  # exp overflow in the sigmoid surrogate: -> 0
lt = triton_backend()
device = sys.argv[1]
torch.manual_seed(0)
T, B, N = 12, 3, 5
cases = 0
for conv, reset, tau_syn, detach, name in itertools.product(
    ("spikeinit", "snntorch", "stork"), ("zero", "subtract", "none"), (None, 10e-3),
    (True, False), ("superspike", "fast_sigmoid", "atan", "sigmoid", "triangle"),
):
    if conv != "spikeinit" and name not in ("superspike", "atan"):
        continue  # every surrogate in the reference order, two in the others
    if conv == "stork" and reset == "zero" and not detach:
        continue  # not supported (lif_sequence refuses it)
    p = si.LIFParams(tau_syn=tau_syn, reset=reset, convention=conv)
    x = (torch.randn(T, B, N) * 1.5 + 0.5).to(device)
    i0, v0 = (torch.randn(B, N) * 0.1).to(device), (torch.randn(B, N) * 0.6).to(device)
    assert lt.supports(x, None) and not lt.supports(x, torch.zeros(N, N, device=device))
    s1, u1 = lt.forward(x, i0, v0, None, p)
    s2, u2 = neuron._forward_torch(x, i0, v0, None, p)
    assert 0.0 < float(s1.mean()) < 1.0, "the case must have spikes and silences"
    assert torch.equal(s1, s2), (conv, reset, tau_syn)
    assert float((u1 - u2).abs().max()) <= 1e-6, (conv, reset, tau_syn)
    sg = Surrogate(name)
    for has_gs, has_gm in ((True, False), (False, True), (True, True)):
        gs = torch.randn(T, B, N, device=device) if has_gs else None
        gm = torch.randn(T, B, N, device=device) if has_gm else None
        got = lt.backward(u1, gs, gm, None, p, sg, detach, v0)
        want = neuron._backward_torch(u2, gs, gm, None, p, sg, detach, v0)
        for a, b, what in zip(got, want, ("grad_x", "grad_i0", "grad_v0")):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m: f"{what} {conv} "
                                       f"{reset} {tau_syn} {detach} {name} {has_gs} {has_gm}: {m}")
        cases += 1
print("cases", cases)

# End to end through lif_sequence and autograd: several programs with a ragged last block
# (M = 2*5*7*4 = 280 neurons, BLOCK = 128), a broadcast initial state and a stride-0
# upstream gradient (from spk.sum()); recurrent layers stay in the torch loop.
calls = []
for fn in ("forward", "backward"):
    setattr(lt, fn, lambda *a, _o=getattr(lt, fn), _n=fn: calls.append(_n) or _o(*a))
p = si.LIFParams(reset="subtract", convention=sys.argv[2])
x = (torch.randn(6, 2, 5, 7, 4) * 8 + 0.5).to(device)
i0, v0 = (torch.randn(5, 7, 4) * 0.1).to(device), torch.tensor(0.2, device=device)
outs = []
for choice in ("triton", "torch"):
    neuron.set_kernel_backend(choice)
    leaves = [t.clone().requires_grad_() for t in (x, i0, v0)]
    spk, mem = si.lif_sequence(leaves[0], p, surrogate="atan", detach_reset=False,
                               initial_state=(leaves[1], leaves[2]), return_mem=True)
    (spk.sum() + (mem * mem).sum()).backward()
    outs.append([spk.detach(), mem.detach()] + [t.grad for t in leaves])
assert calls == ["forward", "backward"], calls
assert 0.0 < float(outs[0][0].mean()) < 1.0
assert torch.equal(outs[0][0], outs[1][0])
torch.testing.assert_close(outs[0][1], outs[1][1], rtol=0, atol=1e-6)
for a, b in zip(outs[0][2:], outs[1][2:]):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
neuron.set_kernel_backend("triton")
assert neuron._fast_kernel(x[:, :, 0, 0], torch.zeros(4, 4, device=device)) is None
print("end to end ok")
"""


def _run_compare(device: str, interpret: bool, convention: str = "stork") -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("TRITON_INTERPRET", None)
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", COMPARE, device, convention], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_triton_kernels_match_torch_loop_in_the_interpreter() -> None:
    # spikeinit: 3 resets x 2 synapses x 2 detach x 5 surrogates x 3 gradient inputs (180);
    # snnTorch: the same with 2 surrogates (72); stork: those less zero-reset detach=False (60)
    out = _run_compare("cpu", interpret=True)
    assert "cases 312" in out and "end to end ok" in out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_triton_kernels_match_torch_loop_on_cuda() -> None:
    out = _run_compare("cuda", interpret=False)
    assert "cases 312" in out and "end to end ok" in out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_lif_sequence_dispatches_to_triton_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    from spikeinit._kernels import triton_backend

    backend = triton_backend()
    assert backend is not None
    calls: list[str] = []
    for name in ("forward", "backward"):
        original = getattr(backend, name)  # bound now: the wrapper must not call itself

        def spy(*args, _name=name, _original=original):
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(backend, name, spy)
    previous = neuron.set_kernel_backend("auto")
    try:
        x = torch.randn(10, 2, 4, device="cuda", requires_grad=True)
        si.lif_sequence(x, si.LIFParams()).sum().backward()
    finally:
        neuron.set_kernel_backend(previous)
    assert calls == ["forward", "backward"]
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_cpu_tensors_do_not_use_triton_without_the_interpreter() -> None:
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("interpreter mode accepts CPU tensors")
    assert neuron._fast_kernel(torch.zeros(3, 2, 4), None) is not neuron.triton_backend()


def test_triton_backend_choice_needs_triton(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neuron, "triton_backend", lambda: None)
    with pytest.raises(RuntimeError, match="triton"):
        si.neuron.set_kernel_backend("triton")
    assert si.neuron.get_kernel_backend() != "triton"
