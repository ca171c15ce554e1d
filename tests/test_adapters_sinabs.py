"""The sinabs adapter (src/spikeinit/adapters/sinabs.py) against sinabs itself.

* spike for spike: sinabs' own layers against an update written here from sinabs'
  documented equations (``v = alpha v + g i``, MultiSpike ``floor(v / theta)``,
  subtract / reset, ``min_v_mem``), so that spikeinit's reading of the neuron is checked
  independently of the adapter;
* the free membrane that the adapter measures (sinabs' own layer with the threshold
  off) against spikeinit's reference neuron with the mapped ``LIFParams``, and against
  sinabs' forward with a huge threshold;
* the layouts: ``[B, T, ...]`` and ``Squeeze`` ``[B*T, ...]`` (by ``batch_size`` or by
  ``num_timesteps``) read time-first, the batch found, the user's layer untouched;
* NIR: an initialised sinabs model exported with ``sinabs.to_nir`` and read back with
  ``sinabs.from_nir`` keeps its weights and its output spikes.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

sl = pytest.importorskip("sinabs.layers", reason="sinabs is not installed (the 'interop' extra)")
activation = pytest.importorskip("sinabs.activation")
from sinabs.layers.alif import ALIFSqueeze  # noqa: E402  (not re-exported by sinabs.layers)

import spikeinit as si  # noqa: E402
from spikeinit.adapters import find_layers  # noqa: E402
from spikeinit.adapters import sinabs as adapter  # noqa: E402
from spikeinit.neuron import lif_sequence  # noqa: E402

# one torch thread per test (conftest.one_thread): per-step loops of tiny ops
pytestmark = pytest.mark.usefixtures("one_thread")

B, T, N = 3, 60, 12


def current(seed: int = 0, shape: tuple[int, ...] = (B, T, N), scale: float = 0.6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return scale * torch.randn(shape, generator=gen) + 0.15


def reference(
    x: torch.Tensor,
    alpha_mem: float,
    theta: float,
    *,
    alpha_syn: float | None = None,
    norm_input: bool = True,
    multi: bool = True,
    reset: str = "subtract",
    min_v: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """sinabs' documented LIF step, written from its equations, on ``[B, T, ...]``."""
    v = torch.zeros_like(x[:, 0], dtype=torch.float64)
    i = torch.zeros_like(v)
    spikes, mems = [], []
    for t in range(x.shape[1]):
        xt = x[:, t].double()
        i = alpha_syn * (i + xt) if alpha_syn is not None else xt
        v = alpha_mem * v + ((1 - alpha_mem) * i if norm_input else i)
        if multi:
            s = torch.where(v > 0, torch.floor(v / theta), torch.zeros_like(v))
        else:
            s = (v >= theta).double()
        v = v - theta * s if reset == "subtract" else v * (s == 0)
        if min_v is not None:
            v = torch.clamp(v, min=min_v)
        spikes.append(s)
        mems.append(v)
    return torch.stack(spikes, 1), torch.stack(mems, 1)


CONFIGS = {
    "lif_multi_subtract": (dict(tau_mem=10.0), dict()),
    "lif_single_zero_minv": (
        dict(
            tau_mem=15.0,
            spike_fn=activation.SingleSpike,
            reset_fn=activation.MembraneReset(),
            min_v_mem=-0.5,
            norm_input=False,
        ),
        dict(multi=False, reset="zero", min_v=-0.5, norm_input=False),
    ),
    "lif_synapse": (dict(tau_mem=20.0, tau_syn=5.0), dict(alpha_syn=math.exp(-1 / 5.0))),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_sinabs_lif_matches_its_documented_update_spike_for_spike(name: str) -> None:
    kwargs, ref_kwargs = CONFIGS[name]
    layer = sl.LIF(spike_threshold=0.3, record_states=True, **kwargs)
    x = current(1) * (1.0 if kwargs.get("norm_input", True) is False else 8.0)
    with torch.no_grad():
        out = layer(x)
    alpha = math.exp(-1 / kwargs["tau_mem"])
    s_ref, v_ref = reference(x, alpha, 0.3, **ref_kwargs)
    assert out.sum() > 20  # the neuron does spike
    assert torch.equal(out.double(), s_ref)
    torch.testing.assert_close(layer.recordings["v_mem"].double(), v_ref, rtol=1e-4, atol=1e-5)
    # the adapter runs that same layer on the time-first current: the same spikes
    sites = find_layers(nn.Sequential(nn.Identity(), layer), x)
    ((_, site),) = sites
    spikes, _ = site.run_current(x.transpose(0, 1))
    assert torch.equal(spikes.transpose(0, 1), out)


def test_iaf_is_the_undecayed_sum() -> None:
    layer = sl.IAF(spike_threshold=1.0, record_states=True)
    x = current(2)
    with torch.no_grad():
        out = layer(x)
    s_ref, _ = reference(x, 1.0, 1.0, norm_input=False)
    assert torch.equal(out.double(), s_ref)


@pytest.mark.parametrize(
    "make",
    [
        lambda: sl.LIF(tau_mem=10.0),
        lambda: sl.LIF(tau_mem=20.0, tau_syn=5.0, norm_input=False),
        lambda: sl.LIF(tau_mem=8.0, train_alphas=True, min_v_mem=-0.2),
        lambda: sl.ALIF(tau_mem=40.0, tau_adapt=40.0, adapt_scale=20, norm_input=False),
        lambda: sl.ALIF(tau_mem=20.0, tau_adapt=30.0, tau_syn=6.0, norm_input=False),
        lambda: sl.ExpLeak(tau_mem=60.0),
        lambda: sl.ExpLeak(tau_mem=30.0, norm_input=True),
    ],
    ids=["lif", "lif_syn", "lif_alphas_minv", "alif", "alif_syn", "expleak", "expleak_norm"],
)
def test_free_membrane_is_the_reference_kernel_and_sinabs_without_threshold(make) -> None:
    """The adapter's free membrane (sinabs' own layer, threshold off) equals spikeinit's
    reference neuron with the mapped LIFParams, and sinabs' forward with theta = 1e30."""
    layer = make()
    x = current(3)
    ((_, site),) = find_layers(nn.Sequential(nn.Identity(), layer), x)
    assert site.has_params
    free = site.free_membrane(x.transpose(0, 1))
    p = site.params.replace(reset="none", threshold=1e30)
    _, mem = lif_sequence(x.transpose(0, 1).reshape(T, -1), p, return_mem=True)
    torch.testing.assert_close(free, mem.reshape(free.shape), rtol=1e-4, atol=1e-5)
    # sinabs itself with a huge threshold (and no lower bound) gives the same membrane
    big = copy.deepcopy(layer)
    big.record_states = True
    if hasattr(big, "b0"):
        big.b0 = 1e30
    elif big.spike_threshold is not None:
        big.spike_threshold = nn.Parameter(torch.tensor(1e30), requires_grad=False)
    big.min_v_mem = None
    big.norm_input = layer.norm_input  # (sinabs' deepcopy of ALIF drops norm_input)
    big.reset_states()
    with torch.no_grad():
        out = big(x)
    # ALIF's recordings alias the next step's state: the last step is right (free: no
    # reset, no clip), and ExpLeak's output is its membrane
    sinabs_mem = out if isinstance(layer, sl.ExpLeak) else big.recordings["v_mem"]
    if isinstance(layer, sl.ALIF):
        free, sinabs_mem = free[-1:], sinabs_mem[:, -1:]
    torch.testing.assert_close(free, sinabs_mem.transpose(0, 1))
    assert site.is_readout == isinstance(layer, sl.ExpLeak)


def test_iaf_targets_the_input_std() -> None:
    model = nn.Sequential(nn.Linear(N, 16, bias=False), sl.IAF())
    x = (torch.rand(B, T, N) < 0.2).float()
    report = si.initialize(model, x)
    ((_, site),) = find_layers(model, x)
    assert not site.leaky and not site.has_params
    per_step = model[0](x)  # what the neuron integrates, [B, T, 16]
    sigma = float(per_step.var(dim=(0, 1), unbiased=False).mean().sqrt())
    # static-in-time or not, the measured quantity is the std of the per-step input
    assert abs(sigma - report.layers[0].target_sigma_u_theta) < 0.05 * sigma + 1e-3


@pytest.mark.parametrize("by", ["batch_size", "num_timesteps"])
def test_squeeze_layers_read_time_first(by: str) -> None:
    kw = {"batch_size": B} if by == "batch_size" else {"num_timesteps": T}
    layer = sl.LIFSqueeze(tau_mem=10.0, **kw)
    x = current(4, (B * T, N))
    plain = sl.LIF(tau_mem=10.0)
    with torch.no_grad():
        want = plain(x.reshape(B, T, N))  # sinabs' own unfolding: batch-major
        got = layer(x)
    assert torch.equal(got.reshape(B, T, N), want)
    tf = adapter.time_first(layer, x)
    assert tf.shape == (T, B, N) and torch.equal(tf[5, 1], x[1 * T + 5])
    ((_, site),) = find_layers(nn.Sequential(nn.Identity(), layer), x)
    spikes, _ = site.run_current(tf)
    assert torch.equal(spikes.transpose(0, 1), want)


def test_the_batch_of_a_sinabs_model_is_its_first_axis() -> None:
    from spikeinit.adapters.find import find_sites

    model = nn.Sequential(nn.Linear(N, 8), sl.LIF(tau_mem=10.0))
    trace, _ = find_sites(model, current(5, (5, 7, N)))
    assert trace.batch_size == 5  # not the 7 time steps
    squeeze = nn.Sequential(nn.Linear(N, 8), sl.LIFSqueeze(tau_mem=10.0, batch_size=5))
    trace, _ = find_sites(squeeze, current(5, (35, N)))
    assert trace.batch_size is None  # axis 0 is batch and time together: not narrowed


def test_recurrent_free_membrane_takes_the_actual_spikes() -> None:
    torch.manual_seed(0)
    rec = nn.Sequential(nn.Flatten(), nn.Linear(N, N, bias=False))
    layer = sl.LIFRecurrent(tau_mem=20.0, rec_connect=rec, norm_input=False, spike_threshold=0.5)
    x = current(6, scale=0.3)
    w_before = rec[1].weight.detach().clone()
    weight_id = id(rec[1].weight)
    ((_, site),) = find_layers(nn.Sequential(nn.Identity(), layer), x)
    assert [g.name for g in site.weight_groups()] == ["1.rec_connect.1.weight"]
    assert site.weight_groups()[0].kind == "rec"
    cur = x.transpose(0, 1)
    spikes, _ = site.run_current(cur)
    layer.reset_states()
    with torch.no_grad():  # (sinabs' own deepcopy fails on a recurrent layer)
        want = layer(x)
    layer.reset_states()
    assert spikes.sum() > 0 and torch.equal(spikes.transpose(0, 1), want)
    free = site.free_membrane(cur)
    prev = torch.cat([torch.zeros_like(spikes[:1]), spikes[:-1]])
    drive = cur + prev @ w_before.T
    _, mem = lif_sequence(
        drive.reshape(T, -1), site.params.replace(reset="none", threshold=1e30), return_mem=True
    )
    torch.testing.assert_close(free, mem.reshape(free.shape), rtol=1e-4, atol=1e-5)
    # the user's layer is untouched: same parameter object, same values, no state
    assert id(rec[1].weight) == weight_id and torch.equal(rec[1].weight, w_before)


def test_a_subclass_of_a_sinabs_neuron_is_refused_by_name() -> None:
    class MyLIF(sl.LIF):
        pass

    model = nn.Sequential(nn.Linear(N, 8), MyLIF(tau_mem=10.0))
    with pytest.raises(ValueError) as err:
        si.initialize(model, current(7))
    msg = str(err.value)
    assert "'1' (sinabs MyLIF)" in msg and "subclass of LIF" in msg
    assert "si.register_neuron(cls, adapter)" in msg


def test_nir_round_trip_keeps_the_initialised_weights_and_the_spikes() -> None:
    """A DynapCNN-style net (IAFSqueeze with min_v_mem = -theta, SumPool2d), initialised,
    exported with sinabs.to_nir and read back with sinabs.from_nir: same weights, same
    output spikes. (sinabs' import gives every IF node min_v_mem = -v_threshold, which
    NIR's IF cannot say, so a net without that lower bound comes back with it.)"""
    import sinabs

    torch.manual_seed(2)  # (seed 0 draws output weights of negative mean: a silent output)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=2, min_v_mem=-1.0),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 3, bias=False),
        sl.IAFSqueeze(batch_size=2, min_v_mem=-1.0),
    )
    x = (torch.rand(2 * 40, 2, 8, 8) < 0.2).float()
    si.initialize(model, x, readout=1.0)  # an output layer that spikes, to compare
    graph = sinabs.to_nir(model, x)
    kinds = sorted(type(v).__name__ for v in graph.nodes.values())
    assert kinds.count("IF") == 2 and "SumPool2d" in kinds and "Conv2d" in kinds
    back = sinabs.from_nir(graph, batch_size=2)
    ours = [p for n, p in model.named_parameters() if n.endswith("weight")]
    theirs = [p for n, p in back.named_parameters() if n.endswith("weight")]
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(b.detach().float().reshape(a.shape), a.detach())
    sinabs.reset_states(model)
    with torch.no_grad():
        want = model(x)
        got = back(x)
    got = got[0] if isinstance(got, tuple) else got  # nirtorch returns (output, state)
    assert want.sum() > 0 and torch.equal(got.reshape(want.shape), want)


def test_alif_with_norm_input_and_a_synapse_is_measured_alone() -> None:
    """ALIF's norm_input scales the stored i_syn: decay alpha_syn (1 - alpha_mem), here
    below exp(-1) (faster than one step), which LIFParams cannot express."""
    layer = sl.ALIF(tau_mem=20.0, tau_adapt=30.0, tau_syn=6.0)
    x = current(8)
    ((_, site),) = find_layers(nn.Sequential(nn.Identity(), layer), x)
    assert not site.has_params and any("no LIFParams form" in n for n in site.notes)
    a_m, a_s = math.exp(-1 / 20.0), math.exp(-1 / 6.0)
    i = torch.zeros(B, N, dtype=torch.float64)
    v = torch.zeros_like(i)
    want = []
    for t in range(T):
        i = (1 - a_m) * a_s * (i + x[:, t].double())
        v = a_m * v + i
        want.append(v)
    free = site.free_membrane(x.transpose(0, 1))
    torch.testing.assert_close(free.double(), torch.stack(want), rtol=1e-4, atol=1e-6)


def test_nir_export_of_spikeinit_refuses_a_sinabs_model() -> None:
    model = nn.Sequential(nn.Linear(N, 8), sl.LIF(tau_mem=10.0))
    with pytest.raises(ValueError, match="SpikingLinear"):
        si.export_nir(model)


def _every_class() -> dict[str, tuple[nn.Module, bool]]:
    """One layer of each supported class, and whether it takes ``[B*T, ...]``."""
    rec = lambda: nn.Linear(16, 16, bias=False)  # noqa: E731
    return {
        "IAF": (sl.IAF(), False),
        "IAFSqueeze": (sl.IAFSqueeze(batch_size=B), True),
        "IAFRecurrent": (sl.IAFRecurrent(rec_connect=rec()), False),
        "LIF": (sl.LIF(tau_mem=10.0), False),
        "LIFSqueeze": (sl.LIFSqueeze(tau_mem=10.0, num_timesteps=T), True),
        "LIFRecurrent": (sl.LIFRecurrent(tau_mem=10.0, rec_connect=rec()), False),
        "ALIF": (sl.ALIF(tau_mem=10.0, tau_adapt=50.0), False),
        "ALIFSqueeze": (
            ALIFSqueeze(tau_mem=10.0, tau_adapt=50.0, batch_size=B),
            True,
        ),
        "ALIFRecurrent": (sl.ALIFRecurrent(tau_mem=10.0, tau_adapt=50.0, rec_connect=rec()), False),
        "ExpLeak": (sl.ExpLeak(tau_mem=10.0), False),
        "ExpLeakSqueeze": (sl.ExpLeakSqueeze(tau_mem=10.0, batch_size=B), True),
    }


def test_every_supported_class_is_in_this_test() -> None:
    assert sorted(_every_class()) == sorted(adapter.SUPPORTED)


@pytest.mark.parametrize("name", adapter.SUPPORTED)
def test_every_supported_class_lands_on_target(name: str) -> None:
    """Each class, after a Linear layer, fed Poisson spikes in its own layout: one call
    sets sigma_U / theta to 1 (0.25 for the ExpLeak readout, decoded by its membrane)."""
    layer, squeezed = _every_class()[name]
    model = nn.Sequential(nn.Linear(N, 16), nn.Linear(16, 16), layer)
    gen = torch.Generator().manual_seed(9)
    x = (torch.rand((B, T, N), generator=gen) < 0.2).float()
    if squeezed:
        x = x.flatten(0, 1)
    report = si.initialize(model, x, readout=1.0)
    diag = si.diagnose(model, x)
    ((d,),) = [diag.layers]
    assert d.state == ("readout" if name.startswith("ExpLeak") else d.state)
    assert abs(d.sigma_u_theta - 1.0) < 0.10, (name, d.sigma_u_theta, report.layers[0].notes)
