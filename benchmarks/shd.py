"""One SHD-shaped training step: 700-128-128-20, T=350, B=128, 3% input spikes.

Feed-forward and recurrent hidden layers; leaky (non-spiking) readout, loss =
cross-entropy of the max-over-time readout membrane, Adam step. spikeinit vs
snnTorch (``Leaky`` / ``RLeaky``) vs Norse (``LIFCell`` / ``LIFRecurrentCell``,
``LICell`` readout), and the GEMM floor: the forward and backward GEMMs of the
same network (including the per-step recurrent ones) with no neuron or
autograd work. Neuron maths: spikeinit and snnTorch use the same delta-synapse
LIF with zero reset (beta 0.95); Norse uses its default current-based LIF.
Linear maps are applied to whole sequences; baselines step through
``unbind(0)``. Norse's ``LIFRecurrentCell`` applies its input weights per step
(that is how the cell is built).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

import spikeinit as si

from ._common import fmt_table, median_time, parser, setup_threads, write_json

T, B, SIZES, DENSITY, BETA = 350, 128, (700, 128, 128, 20), 0.03, 0.95


def _seq_linear(fc: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return fc(x.reshape(-1, x.shape[-1])).reshape(x.shape[0], x.shape[1], -1)


class Ours(torch.nn.Module):
    def __init__(self, recurrent: bool) -> None:
        super().__init__()
        p = si.LIFParams.from_snntorch(BETA, reset_mechanism="zero")
        n0, n1, n2, n3 = SIZES
        self.l1 = si.nn.SpikingLinear(n0, n1, p, recurrent=recurrent, surrogate="atan")
        self.l2 = si.nn.SpikingLinear(n1, n2, p, recurrent=recurrent, surrogate="atan")
        self.ro = si.nn.Readout(n2, n3, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ro(self.l2(self.l1(x)))


class SnnTorchNet(torch.nn.Module):
    def __init__(self, recurrent: bool) -> None:
        import snntorch

        super().__init__()
        n0, n1, n2, n3 = SIZES
        self.fc = torch.nn.ModuleList(
            torch.nn.Linear(a, b, bias=False) for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)
        )
        if recurrent:
            self.lif = torch.nn.ModuleList(
                snntorch.RLeaky(BETA, linear_features=n, reset_mechanism="zero") for n in (n1, n2)
            )
        else:
            self.lif = torch.nn.ModuleList(
                snntorch.Leaky(BETA, reset_mechanism="zero") for _ in (n1, n2)
            )
        self.ro = snntorch.Leaky(BETA, reset_mechanism="none")
        self.recurrent = recurrent

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for fc, lif in zip(self.fc[:2], self.lif, strict=True):
            cur = _seq_linear(fc, h)
            if self.recurrent:
                spk, mem = lif.init_rleaky()
            else:
                mem = lif.reset_mem()
            out = []
            for c in cur.unbind(0):
                if self.recurrent:
                    spk, mem = lif(c, spk, mem)
                else:
                    spk, mem = lif(c, mem)
                out.append(spk)
            h = torch.stack(out)
        cur = _seq_linear(self.fc[2], h)
        mem = self.ro.reset_mem()
        mems = []
        for c in cur.unbind(0):
            _, mem = self.ro(c, mem)
            mems.append(mem)
        return torch.stack(mems)


class NorseNet(torch.nn.Module):
    def __init__(self, recurrent: bool) -> None:
        import norse.torch as norse

        super().__init__()
        n0, n1, n2, n3 = SIZES
        self.recurrent = recurrent
        if recurrent:
            self.cells = torch.nn.ModuleList(
                [norse.LIFRecurrentCell(n0, n1), norse.LIFRecurrentCell(n1, n2)]
            )
        else:
            self.fc = torch.nn.ModuleList(
                [torch.nn.Linear(n0, n1, bias=False), torch.nn.Linear(n1, n2, bias=False)]
            )
            self.cells = torch.nn.ModuleList([norse.LIFCell(), norse.LIFCell()])
        self.fc_ro = torch.nn.Linear(n2, n3, bias=False)
        self.ro = norse.LICell()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for k, cell in enumerate(self.cells):
            cur = h if self.recurrent else _seq_linear(self.fc[k], h)
            state, out = None, []
            for c in cur.unbind(0):
                s, state = cell(c, state)
                out.append(s)
            h = torch.stack(out)
        state, mems = None, []
        for c in _seq_linear(self.fc_ro, h).unbind(0):
            v, state = self.ro(c, state)
            mems.append(v)
        return torch.stack(mems)


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, SIZES[0], generator=g) < DENSITY).float()
    y = torch.randint(0, SIZES[-1], (B,), generator=g)
    return x, y


def train_step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):  # type: ignore[no-untyped-def]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        mem = model(x)
        loss = F.cross_entropy(mem.max(0).values, y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def floor_fn(recurrent: bool, x: torch.Tensor):  # type: ignore[no-untyped-def]
    """The same network's GEMMs alone (random spike-like activations)."""
    g = torch.Generator().manual_seed(1)
    ws = [torch.randn(b, a, generator=g) * 0.05 for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]
    rs = [torch.randn(n, n, generator=g) * 0.05 for n in SIZES[1:3]]
    acts = [x.reshape(T * B, -1)] + [
        (torch.rand(T * B, n, generator=g) < 0.05).float() for n in SIZES[1:3]
    ]
    grads = [torch.randn(T * B, n, generator=g) for n in SIZES[1:]]

    def step() -> None:
        for k, w in enumerate(ws):
            F.linear(acts[k], w)  # forward current
            grads[k].t() @ acts[k]  # weight gradient
            if k > 0:
                grads[k] @ w  # input gradient
        if recurrent:
            for r, a, gr in zip(rs, acts[1:], grads[:2], strict=True):
                a3, g3 = a.reshape(T, B, -1), gr.reshape(T, B, -1)
                for t in range(1, T):
                    a3[t - 1] @ r.t()  # forward R S[t-1]
                    g3[t] @ r  # backward dL/dI[t] R
                g3[1:].reshape(-1, r.shape[0]).t() @ a3[:-1].reshape(-1, r.shape[0])

    return step


def run(reps: int = 5, warmup: int = 2) -> dict[str, Any]:
    x, y = make_data()
    res: dict[str, Any] = {"workload": {"T": T, "B": B, "sizes": SIZES, "density": DENSITY}}
    for rec in (False, True):
        key = "recurrent" if rec else "feedforward"
        r: dict[str, Any] = {}
        for name, cls in (("spikeinit", Ours), ("snntorch", SnnTorchNet), ("norse", NorseNet)):
            torch.manual_seed(0)
            r[name] = median_time(train_step_fn(cls(rec), x, y), reps, warmup)
        r["floor"] = median_time(floor_fn(rec, x), reps, warmup)
        ours = r["spikeinit"]["median_s"]
        r["ratios"] = {
            "snntorch_over_spikeinit": r["snntorch"]["median_s"] / ours,
            "norse_over_spikeinit": r["norse"]["median_s"] / ours,
            "spikeinit_over_floor": ours / r["floor"]["median_s"],
        }
        res[key] = r
    return res


def report(res: dict[str, Any]) -> str:
    rows = []
    for key in ("feedforward", "recurrent"):
        r = res[key]
        for name in ("spikeinit", "snntorch", "norse", "floor"):
            rows.append([key, name, r[name]["median_s"] * 1e3,
                         r[name]["median_s"] / r["spikeinit"]["median_s"],
                         r[name]["median_s"] / r["floor"]["median_s"]])  # fmt: skip
    return "SHD-shaped training step 700-128-128-20, T=350, B=128, 3% input\n" + fmt_table(
        rows, ["net", "library", "median ms", "x spikeinit", "x floor"]
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    setup_threads(args.threads)
    res = run(args.reps, args.warmup)
    print(report(res))
    write_json(args.out, "shd", res)
    return res


if __name__ == "__main__":
    main()
