"""Dale's-law layer: semantics, non-negativity, initialisation, and the SHD pipeline."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import spikeinit as si
from spikeinit.init.dale_rule import _group_membranes, balance_joint_
from spikeinit.nn import DaleLinear

pytestmark = pytest.mark.usefixtures("one_thread")


def test_populations_and_output() -> None:
    layer = DaleLinear(20, 8, recurrent=True)
    assert layer.n_inh == 2  # 4:1
    kinds = {g.name: g.kind for g in layer.weight_groups()}
    assert kinds == {
        "w_xe": "exc", "w_xi": "exc", "w_ie": "inh", "w_ii": "inh", "w_ee": "exc", "w_ei": "exc",
    }  # fmt: skip
    assert {g.name for g in DaleLinear(20, 8, recurrent=False).weight_groups()} == {
        "w_xe", "w_xi", "w_ie", "w_ii",
    }  # fmt: skip
    x = (torch.rand(30, 3, 20) < 0.2).float()
    out = layer(x)
    assert out.shape == (30, 3, 8)  # E spikes only
    pops = layer.simulate_populations(x)
    assert pops["exc"][0].shape == (30, 3, 8) and pops["inh"][0].shape == (30, 3, 2)
    torch.testing.assert_close(pops["exc"][0], out)


def test_inhibition_is_subtracted_and_weights_act_non_negative() -> None:
    torch.manual_seed(0)
    layer = DaleLinear(10, 4, recurrent=False)
    x = (torch.rand(40, 2, 10) < 0.3).float()
    with torch.no_grad():
        layer.w_xe.fill_(0.5)
        layer.w_xi.fill_(0.5)
        layer.w_ii.zero_()
        layer.w_ie.zero_()
        base = layer.simulate(x, free=True)[1]
        layer.w_ie.fill_(1.0)
        inhibited = layer.simulate(x, free=True)[1]
        assert float(inhibited.sum()) < float(base.sum())
        # negative stored weights act as zero (relu)
        layer.w_ie.fill_(-3.0)
        torch.testing.assert_close(layer.simulate(x, free=True)[1], base)
    # straight-through gradient: a negative stored weight still gets a gradient
    layer.w_ie.data.fill_(-0.1)
    layer.simulate(x, free=True)[1].sum().backward()
    assert layer.w_ie.grad is not None and float(layer.w_ie.grad.abs().sum()) > 0
    layer.constrain_()
    assert float(layer.w_ie.detach().min()) >= 0.0


def test_free_membrane_matches_loop_without_threshold() -> None:
    torch.manual_seed(1)
    params = si.LIFParams(threshold=1e9)  # never spikes: free membrane = real membrane
    layer = DaleLinear(10, 4, params=params).double()
    x = (torch.rand(30, 2, 10, dtype=torch.float64) < 0.3).double()
    s, u = layer.simulate(x)
    _, free = layer.simulate(x, free=True)
    assert float(s.detach().sum()) == 0.0
    torch.testing.assert_close(u, free)


@pytest.mark.parametrize("calibrate", [False, True])
@pytest.mark.parametrize("recurrent", [False, True])
def test_initialize_dale_hits_targets_and_stays_exponential(
    recurrent: bool, calibrate: bool
) -> None:
    """Issue criterion: E-population free sigma_U within 10 % of target (2 % with
    calibrate=True), mean within 0.05 theta of 0; weights non-negative, exponential."""
    torch.manual_seed(2)
    model = si.models.build("dale_shd", (700,), 20, recurrent=recurrent)
    x = (torch.rand(200, 4, 700) < 15.8 * 2e-3).float()
    rep = si.initialize(model, x, seed=0, readout="normal", calibrate=calibrate)
    layer = model[0]
    for g in layer.weight_groups():
        w = g.weight.detach()
        assert float(w.min()) >= 0.0, g.name  # stored = effective weights, all >= 0
        # exponential shape kept (only whole groups are rescaled): std = mean
        assert abs(float(w.std()) / float(w.mean()) - 1.0) < 0.15, g.name
    entry = rep.layers[0]
    assert len(entry.groups) == (6 if recurrent else 4)
    assert entry.groups[0].rule.startswith("dale_exponential")
    assert entry.predicted_sigma_u == pytest.approx(1.0)
    sd, mu = entry.measured_sigma_u, entry.measured_mu_u
    assert sd is not None and mu is not None
    assert abs(sd - 1.0) <= (0.02 if calibrate else 0.10), sd
    assert abs(mu) <= 0.05, mu
    # the report's figure is the E population's free membrane, re-measured independently
    u, _ = _group_membranes(layer, x)
    u_exc = sum(u["exc"].values())
    assert isinstance(u_exc, torch.Tensor)
    assert float(u_exc.mean()) == pytest.approx(mu, abs=1e-4)
    assert float(u_exc.var(0, unbiased=False).mean().sqrt()) == pytest.approx(sd, rel=1e-4)


def test_group_membranes_sum_to_free_membrane() -> None:
    """The per-group contributions that the balance solves on add up exactly."""
    torch.manual_seed(3)
    layer = DaleLinear(30, 8, recurrent=True).double()
    x = (torch.rand(40, 2, 30, dtype=torch.float64) < 0.2).double()
    u, spikes = _group_membranes(layer, x)
    pops = layer.simulate_populations(x, free=True)
    for pop in ("exc", "inh"):
        torch.testing.assert_close(sum(u[pop].values()), pops[pop][1])
        torch.testing.assert_close(spikes[pop], pops[pop][0])
    assert set(u["exc"]) == {"w_xe", "w_ee", "w_ie"}
    assert float(u["exc"]["w_ie"].max()) <= 0.0  # inhibition enters with a minus sign


def test_calibrate_keeps_dale_weights_non_negative() -> None:
    """The generic calibration (rescale around the mean) would push weights below 0."""
    torch.manual_seed(4)
    model = si.models.build("dale_shd", (100,), 4, recurrent=False)
    x = (torch.rand(100, 4, 100) < 0.05).float()
    rep = si.initialize(model, x, seed=0, readout="normal", calibrate=True, sigma_u=2.0)
    assert all(float(g.weight.detach().min()) >= 0.0 for g in model[0].weight_groups())
    assert rep.layers[0].measured_sigma_u == pytest.approx(2.0, rel=0.02)


def test_mu_u_nonzero_rejected() -> None:
    model = si.models.build("dale_shd", (30,), 4)
    x = (torch.rand(50, 2, 30) < 0.05).float()
    with pytest.raises(ValueError, match="mu_u"):
        si.initialize(model, x, mu_u=0.2)


def _write_shd(path: Path, n: int, rng: np.random.Generator) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        vt = h5py.vlen_dtype(np.float32)
        vu = h5py.vlen_dtype(np.uint16)
        times = f.create_dataset("spikes/times", (n,), dtype=vt)
        units = f.create_dataset("spikes/units", (n,), dtype=vu)
        labels = rng.integers(0, 3, n)
        for i in range(n):
            k = 200
            # class-dependent channel band, times in seconds within 0.04 s
            u = (rng.integers(0, 200, k) + 250 * labels[i]) % 700
            times[i] = np.sort(rng.uniform(0, 0.04, k)).astype(np.float32)
            units[i] = u.astype(np.uint16)
        f.create_dataset("labels", data=labels.astype(np.uint8))


def test_shd_pipeline_end_to_end(tmp_path: Path) -> None:
    """HDF5 in SHD's format -> si.data.read_shd -> initialize -> 1 epoch -> evaluation."""
    rng = np.random.default_rng(0)
    _write_shd(tmp_path / "train.h5", 8, rng)
    _write_shd(tmp_path / "test.h5", 4, rng)
    tr, y_tr = si.data.read_shd(tmp_path / "train.h5", dt=2e-3, n_steps=10)
    te, y_te = si.data.read_shd(tmp_path / "test.h5", dt=2e-3, n_steps=10)
    x_tr = torch.stack([tr[i] for i in range(len(y_tr))], dim=1).float()
    x_te = torch.stack([te[i] for i in range(len(y_te))], dim=1).float()
    assert x_tr.shape == (10, 8, 700) and float(x_tr.sum()) > 0
    model = si.models.build("recurrent_conv_shd", (700,), 20)
    si.initialize(model, x_tr, seed=0, readout="normal")
    cfg = si.train.TrainConfig(epochs=1, batch_size=4, progress=False)
    result = si.train.fit(model, (x_tr, y_tr), test=(x_te, y_te), config=cfg)
    assert result.test_accuracy is not None and 0.0 <= result.test_accuracy <= 1.0


@pytest.mark.parametrize(("n_in", "steps", "seed"), [(300, 150, 0), (300, 150, 2), (500, 120, 1)])
def test_inhibitory_population_balanced(n_in: int, steps: int, seed: int) -> None:
    """Issue 15, done-when 5: without recurrent excitation the I population's own free
    membrane (re-measured by simulation, independently of the balance) has mean within
    0.05 theta of 0 and sigma within 10 % of the target; the E population stays on target."""
    torch.manual_seed(seed)
    model = si.models.build("dale_shd", (n_in,), 4, recurrent=False)
    x = (torch.rand(steps, 4, n_in) < 15.8 * 2e-3).float()
    si.initialize(model, x, seed=seed, readout="normal")
    pops = model[0].simulate_populations(x, free=True)
    for pop in ("exc", "inh"):
        u = pops[pop][1].detach().double()
        assert abs(float(u.mean())) <= 0.05, (pop, float(u.mean()))
        assert float(u.var(0, unbiased=False).mean().sqrt()) == pytest.approx(1.0, rel=0.10), pop
    assert all(float(g.weight.detach().min()) >= 0.0 for g in model[0].weight_groups())


def _population_stats(layer: DaleLinear, x: torch.Tensor) -> dict[str, tuple[float, float]]:
    """Each population's free-membrane mean and RMS temporal std, from the layer's own run."""
    with torch.no_grad():
        pops = layer.simulate_populations(x, free=True)
    out = {}
    for pop in ("exc", "inh"):
        u = pops[pop][1].double()
        out[pop] = (float(u.mean()), float(u.var(0, unbiased=False).mean().sqrt()))
    return out


def _recurrent_balance(
    n_in: int, steps: int, seed: int
) -> tuple[bool, bool, dict[str, tuple[float, float]]]:
    """Initialise a recurrent ``dale_shd`` layer; ``(within issue 15's tolerance, warned,
    {population: (mean, sigma)})``.

    Each population's free membrane is re-simulated by the layer itself: mean within
    0.05 theta of 0 and sigma within 10 % of the target (1 theta)."""
    torch.manual_seed(seed)
    model = si.models.build("dale_shd", (n_in,), 4, recurrent=True)
    x = (torch.rand(steps, 4, n_in) < 15.8 * 2e-3).float()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        si.initialize(model, x, seed=seed, readout="normal")
    warned = any("Dale balance" in str(w.message) for w in caught)
    stats = _population_stats(model[0], x)
    ok = all(abs(mu) <= 0.05 and abs(sd - 1.0) <= 0.10 for mu, sd in stats.values())
    assert all(float(g.weight.detach().min()) >= 0.0 for g in model[0].weight_groups())
    return ok, warned, stats


@pytest.mark.parametrize(("n_in", "steps", "seed"), [(300, 150, 0), (300, 150, 2), (700, 200, 1)])
def test_recurrent_dale_both_populations_balanced(n_in: int, steps: int, seed: int) -> None:
    """Issue 15, done-when 5, with recurrent excitation (E->E, E->I): the E and the I
    population's free membranes, re-simulated by the layer itself, have mean within
    0.05 theta of 0 and sigma within 10 % of the target (before the joint balance the
    I mean was -0.15 to -0.6 theta), without a warning."""
    ok, warned, stats = _recurrent_balance(n_in, steps, seed)
    assert ok and not warned, stats


@pytest.mark.slow
def test_recurrent_dale_both_populations_balanced_sweep() -> None:
    """The same at SHD-like sizes, 6 draws of weights and input for each of 4 sizes: at
    least 22 of the 24 within the tolerance, and every miss is warned (never silent)."""
    results = [
        _recurrent_balance(n_in, steps, seed)[:2]
        for n_in, steps in ((700, 200), (700, 350), (300, 150), (300, 250))
        for seed in range(6)
    ]
    assert all(ok or warned for ok, warned in results)
    assert sum(ok for ok, _ in results) >= 22, results


def test_joint_balance_warns_when_target_unreachable() -> None:
    """Without inhibitory weights no positive rescaling can zero the mean: warned, not silent."""
    torch.manual_seed(5)
    layer = DaleLinear(100, 16, 4, params=si.models.STORK_PARAMS, recurrent=True)
    x = (torch.rand(100, 2, 100) < 0.05).float()
    with torch.no_grad():
        layer.w_ie.zero_()
        layer.w_ii.zero_()
    with pytest.warns(RuntimeWarning, match="not reached"):
        res = balance_joint_(layer, x, 1.0, max_sims=5)
    assert res["converged"] == 0.0 and res["sims"] <= 5
    assert all(float(g.weight.detach().min()) >= 0.0 for g in layer.weight_groups())
