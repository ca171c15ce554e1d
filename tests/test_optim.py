import copy
import math

import pytest
import torch

from spikeinit.optim import SMORMS3, make_optimizer, make_scheduler, schedule_per_batch


def _quadratic(dim=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    a = m @ m.T / dim + 0.5 * torch.eye(dim, dtype=torch.float64)
    b = torch.randn(dim, generator=g, dtype=torch.float64)
    return a, b


def _loss(x, a, b):
    return 0.5 * x @ a @ x - b @ x


def _smorms3_reference(x0, grad_fn, lr, steps, eps=1e-16):
    """Funk's SMORMS3, element by element in plain Python floats."""
    x = [float(v) for v in x0]
    n = len(x)
    mem, g, g2 = [1.0] * n, [0.0] * n, [0.0] * n
    for _ in range(steps):
        grad = grad_fn(x)
        for i in range(n):
            r = 1.0 / (mem[i] + 1.0)
            g[i] = (1 - r) * g[i] + r * grad[i]
            g2[i] = (1 - r) * g2[i] + r * grad[i] ** 2
            xi = g[i] ** 2 / (g2[i] + eps)
            x[i] -= grad[i] * min(lr, xi) / (math.sqrt(g2[i]) + eps)
            mem[i] = 1 + mem[i] * (1 - xi)
    return x


def test_smorms3_matches_reference_on_quadratic():
    a, b = _quadratic()
    x0 = torch.linspace(-1, 1, 5, dtype=torch.float64)

    def grad_fn(x):
        return (a @ torch.tensor(x, dtype=torch.float64) - b).tolist()

    lr, steps = 0.05, 60
    ref = _smorms3_reference(x0.tolist(), grad_fn, lr, steps)
    x = x0.clone().requires_grad_(True)
    opt = SMORMS3([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        _loss(x, a, b).backward()
        opt.step()
    torch.testing.assert_close(
        x.detach(), torch.tensor(ref, dtype=torch.float64), rtol=1e-12, atol=1e-12
    )
    assert float(opt.state[x]["step"]) == steps


def test_smorms3_minimises_quadratic():
    a, b = _quadratic(dim=8, seed=1)
    x_star = torch.linalg.solve(a, b)
    x = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    opt = SMORMS3([x], lr=0.02)
    start = float(_loss(x.detach(), a, b) - _loss(x_star, a, b))
    for _ in range(800):
        opt.zero_grad()
        _loss(x, a, b).backward()
        opt.step()
    gap = float(_loss(x.detach(), a, b) - _loss(x_star, a, b))
    assert gap < 1e-3 * start
    assert torch.allclose(x.detach(), x_star, atol=1e-2)


def test_smorms3_state_dict_roundtrip_continues_identically():
    a, b = _quadratic()

    def run(opt, x, steps):
        for _ in range(steps):
            opt.zero_grad()
            _loss(x, a, b).backward()
            opt.step()

    x1 = torch.ones(5, dtype=torch.float64, requires_grad=True)
    o1 = SMORMS3([x1], lr=0.03)
    run(o1, x1, 7)
    x2 = x1.detach().clone().requires_grad_(True)
    o2 = SMORMS3([x2], lr=0.5)
    o2.load_state_dict(copy.deepcopy(o1.state_dict()))  # as if saved and loaded
    assert o2.param_groups[0]["lr"] == 0.03
    run(o1, x1, 5)
    run(o2, x2, 5)
    assert torch.equal(x1, x2)


def test_smorms3_weight_decay_and_skips_params_without_grad():
    w = torch.ones(3, requires_grad=True)
    unused = torch.ones(2, requires_grad=True)
    opt = SMORMS3([w, unused], lr=0.1, weight_decay=1.0)
    (0.0 * w.sum()).backward()  # zero gradient: only the decay moves w
    opt.step()
    assert (w < 1).all() and torch.equal(unused, torch.ones(2))
    assert unused not in opt.state


@pytest.mark.parametrize("name", ["adam", "AdamW", "smorms3"])
def test_make_optimizer_by_name(name):
    p = torch.nn.Parameter(torch.zeros(2))
    opt = make_optimizer(name, [p], lr=1e-3)
    assert opt.param_groups[0]["lr"] == 1e-3
    expected = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "smorms3": SMORMS3}
    assert type(opt) is expected[name.lower()]


def test_make_optimizer_rejects_bad_values():
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(
        ValueError, match=r"optimizer must be one of \['adam', 'adamw', 'smorms3'\]"
    ):
        make_optimizer("sgd", [p], lr=1e-3)
    for lr in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="lr must be"):
            make_optimizer("adam", [p], lr=lr)
    with pytest.raises(ValueError, match="eps"):
        SMORMS3([p], lr=1e-3, eps=-1.0)


def test_schedules():
    p = torch.nn.Parameter(torch.zeros(2))
    opt = make_optimizer("adam", [p], lr=1.0)
    assert make_scheduler("none", opt, epochs=5) is None
    sched = make_scheduler("cosine", opt, epochs=4)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == 1.0 and all(x > y for x, y in zip(lrs, lrs[1:], strict=False))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)

    opt = make_optimizer("adam", [p], lr=1.0)
    sched = make_scheduler("cosine_batch", opt, epochs=100, t_max=10)
    for _ in range(20):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)  # cycled back (Micheli et al.)
    assert schedule_per_batch("cosine_batch") and not schedule_per_batch("cosine")
    with pytest.raises(
        ValueError, match=r"schedule must be one of \['none', 'cosine', 'cosine_batch'\]"
    ):
        make_scheduler("step", opt, epochs=3)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_smorms3_foreach_equals_the_per_parameter_loop(weight_decay, dtype):
    """The foreach update does the per-parameter loop's arithmetic: equal to float precision
    (bitwise here) over many steps on a small network with several parameter shapes."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(7, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3, bias=False)
    ).to(dtype)
    nets = [copy.deepcopy(net) for _ in range(2)]
    opts = [
        SMORMS3(m.parameters(), lr=0.02, weight_decay=weight_decay, foreach=f)
        for m, f in zip(nets, (True, False), strict=True)
    ]
    x = torch.randn(32, 7, dtype=dtype)
    y = torch.randn(32, 3, dtype=dtype)
    for _ in range(25):
        for m, o in zip(nets, opts, strict=True):
            o.zero_grad()
            ((m(x) - y) ** 2).mean().backward()
            o.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        sa, sb = opts[0].state[a], opts[1].state[b]
        for key in ("step", "mem", "g", "g2"):
            torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


def test_smorms3_foreach_must_be_bool():
    with pytest.raises(TypeError, match="foreach must be a bool"):
        SMORMS3([torch.nn.Parameter(torch.zeros(2))], foreach="yes")
