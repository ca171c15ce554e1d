"""One spiking linear layer, forward + backward: spikeinit vs snnTorch vs the GEMM floor.

Workload: T=350, B=128, 700 -> 128, 3% Bernoulli input spikes (SHD-shaped).

Same maths on both sides: snnTorch ``Leaky(beta, reset_mechanism="zero")`` (atan
surrogate, alpha 2, reset detached) and ``SpikingLinear`` with
``LIFParams.from_snntorch(beta, reset_mechanism="zero")`` (delta synapse, input
scale 1), ``surrogate="atan"``. snnTorch's zero reset multiplies the *previous*
membrane by ``1 - S[t-1]`` before decaying it, which is exactly the reference
``V[t-1] = U[t-1](1 - S[t-1])``, so spikes are identical (asserted) and the
weight gradients agree to float32 rounding (asserted). (snnTorch's subtract reset
is not decayed and would differ.) The input linear map is applied to the whole
sequence at once on both sides, so the comparison is of the neuron loop and the
input path; the floor is the dense GEMM and its weight-gradient GEMM alone.
spikeinit's default (``sparse_input=None``) takes the event-driven input path
at this 3 % density (:mod:`spikeinit.sparse_input`) and so runs below the dense
floor; the row "dense input GEMM" forces ``sparse_input=False``. snnTorch gets
its time steps through ``cur.unbind(0)``: indexing ``cur[t]`` would make every
step's backward write a zero ``[T, B, N]`` tensor (quadratic in T).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

import spikeinit as si

from ._common import fmt_table, median_time, run_benchmark

T, B, N_IN, N_OUT, DENSITY, BETA = 350, 128, 700, 128, 0.03, 0.95


def make_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, N_IN, generator=g) < DENSITY).float()
    w = (torch.rand(N_OUT, N_IN, generator=g) * 2 - 1) * (4.0 / N_IN**0.5)
    grad = torch.randn(T, B, N_OUT, generator=g)  # dL/dS from a downstream layer
    return x, w, grad


def spikeinit_layer(w: torch.Tensor, sparse_input: bool | None = None) -> si.nn.SpikingLinear:
    params = si.LIFParams.from_snntorch(BETA, reset_mechanism="zero")
    layer = si.nn.SpikingLinear(
        N_IN, N_OUT, params, surrogate="atan", detach_reset=True, sparse_input=sparse_input
    )
    with torch.no_grad():
        layer.weight.copy_(w)
    return layer


class SnnTorchLayer(torch.nn.Module):
    def __init__(self, w: torch.Tensor) -> None:
        import snntorch

        super().__init__()
        self.fc = torch.nn.Linear(N_IN, N_OUT, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(w)
        self.lif = snntorch.Leaky(beta=BETA, reset_mechanism="zero")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cur = self.fc(x.reshape(-1, N_IN)).reshape(x.shape[0], x.shape[1], N_OUT)
        mem = self.lif.reset_mem()
        out = []
        for cur_t in cur.unbind(0):  # not cur[t]: its backward is O(T) per step
            spk, mem = self.lif(cur_t, mem)
            out.append(spk)
        return torch.stack(out)


def step(model: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    model.zero_grad(set_to_none=True)
    spk = model(x)
    spk.backward(grad)
    return spk


def floor_step(w: torch.Tensor, x: torch.Tensor, grad: torch.Tensor) -> None:
    """The GEMMs alone: forward current and the weight gradient."""
    x2 = x.reshape(-1, N_IN)
    F.linear(x2, w)
    grad.reshape(-1, N_OUT).t() @ x2


def check_same(x: torch.Tensor, w: torch.Tensor, grad: torch.Tensor) -> dict[str, Any]:
    ours, theirs = spikeinit_layer(w), SnnTorchLayer(w)
    s1, s2 = step(ours, x, grad), step(theirs, x, grad)
    assert torch.equal(s1, s2), "spikeinit and snnTorch spikes differ"
    g1, g2 = ours.weight.grad, theirs.fc.weight.grad
    assert g1 is not None and g2 is not None
    err = ((g1 - g2).abs().max() / g2.abs().max()).item()
    assert err < 1e-4, f"weight gradients differ (max rel. err {err:.2e})"
    return {"spike_rate": s1.mean().item(), "spikes_equal": True, "grad_max_rel_err": err}


def run(reps: int = 7, warmup: int = 2) -> dict[str, Any]:
    x, w, grad = make_inputs()
    check = check_same(x, w, grad)
    ours, theirs = spikeinit_layer(w), SnnTorchLayer(w)
    ours_dense = spikeinit_layer(w, sparse_input=False)
    res = {
        "workload": {"T": T, "B": B, "in": N_IN, "out": N_OUT, "density": DENSITY},
        "check": check,
        "spikeinit": median_time(lambda: step(ours, x, grad), reps, warmup),
        "spikeinit_dense_input": median_time(lambda: step(ours_dense, x, grad), reps, warmup),
        "snntorch": median_time(lambda: step(theirs, x, grad), reps, warmup),
        "floor": median_time(lambda: floor_step(w, x, grad), reps, warmup),
    }
    prev = si.neuron.set_kernel_backend("torch")
    try:
        res["spikeinit_torch_loop"] = median_time(lambda: step(ours_dense, x, grad), reps, warmup)
    finally:
        si.neuron.set_kernel_backend(prev)
    ours_s = res["spikeinit"]["median_s"]
    res["ratios"] = {
        "snntorch_over_spikeinit": res["snntorch"]["median_s"] / ours_s,
        "spikeinit_over_floor": ours_s / res["floor"]["median_s"],
        "torch_loop_over_spikeinit": res["spikeinit_torch_loop"]["median_s"] / ours_s,
        "dense_input_over_floor": res["spikeinit_dense_input"]["median_s"]
        / res["floor"]["median_s"],
    }
    return res


def report(res: dict[str, Any]) -> str:
    rows = [
        [name, res[key]["median_s"] * 1e3, res[key]["median_s"] / res["floor"]["median_s"]]
        for name, key in [
            ("spikeinit (fused kernel, event-driven input)", "spikeinit"),
            ("spikeinit (fused kernel, dense input GEMM)", "spikeinit_dense_input"),
            ("spikeinit (torch loop, dense input GEMM)", "spikeinit_torch_loop"),
            ("snnTorch Leaky", "snntorch"),
            ("GEMM floor", "floor"),
        ]
    ]
    r = res["ratios"]
    return (
        "SpikingLinear 700->128, T=350, B=128, 3% input, forward+backward\n"
        + fmt_table(rows, ["", "median ms", "x floor"])
        + f"\nspikes equal: {res['check']['spikes_equal']}, spike rate "
        f"{res['check']['spike_rate']:.3f}, weight-grad max rel. err "
        f"{res['check']['grad_max_rel_err']:.1e}\n"
        f"snnTorch / spikeinit = {r['snntorch_over_spikeinit']:.2f}x, "
        f"spikeinit / floor = {r['spikeinit_over_floor']:.2f}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = run_benchmark("lif", __doc__ or "", run, report, argv)
    return res


if __name__ == "__main__":
    main()
