import math

import pytest

from spikeinit import LIFParams


def test_defaults_and_derived():
    p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
    assert p.beta_mem == pytest.approx(math.exp(-0.1))
    assert p.beta_syn == pytest.approx(math.exp(-0.2))
    assert p.gain == pytest.approx(1 - math.exp(-0.1))
    d = LIFParams(tau_mem=20e-3, tau_syn=None, dt=2e-3)
    assert d.beta_syn == 0.0 and d.gain == 1.0 and d.delta_synapse


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"tau_mem": 0.0}, "tau_mem"),
        ({"tau_mem": -1.0}, "tau_mem"),
        ({"tau_mem": float("nan")}, "tau_mem"),
        ({"tau_syn": 0.0}, "tau_syn"),
        ({"tau_syn": float("nan")}, "tau_syn"),
        ({"dt": 0.0}, "dt"),
        ({"dt": float("inf")}, "dt"),
        ({"dt": 30e-3}, "tau_mem must be > dt"),
        ({"dt": 15e-3}, "tau_syn must be > dt"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"reset": "hard"}, "reset must be one of"),
        ({"input_scale": -1.0}, "input_scale"),
    ],
)
def test_invalid_values_name_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        LIFParams(**{"tau_mem": 20e-3, "tau_syn": 10e-3, "dt": 1e-3, **kw})


def test_type_errors():
    with pytest.raises(TypeError, match="tau_mem"):
        LIFParams(tau_mem="20ms")  # type: ignore[arg-type]


def test_frozen():
    p = LIFParams()
    with pytest.raises(AttributeError):
        p.dt = 0.5  # type: ignore[misc]


def test_from_snntorch_matches_decay():
    p = LIFParams.from_snntorch(beta=0.5, dt=1e-3)
    assert p.beta_mem == pytest.approx(0.5) and p.gain == 1.0 and p.tau_syn is None
    assert p.reset == "subtract"
    s = LIFParams.from_snntorch(beta=0.9, alpha=0.8, reset_mechanism="zero")
    assert s.beta_syn == pytest.approx(0.8) and s.reset == "zero"
    with pytest.raises(ValueError, match="beta"):
        LIFParams.from_snntorch(beta=1.5)


def test_from_norse_matches_euler():
    p = LIFParams.from_norse(dt=1e-3, tau_mem_inv=100.0, tau_syn_inv=200.0)
    assert p.beta_mem == pytest.approx(1 - 1e-3 * 100)
    assert p.beta_syn == pytest.approx(1 - 1e-3 * 200)
    assert p.gain == pytest.approx(0.1)
    with pytest.raises(ValueError, match="tau_mem_inv"):
        LIFParams.from_norse(dt=1e-2, tau_mem_inv=100.0)


def test_from_spikingjelly():
    p = LIFParams.from_spikingjelly(tau=2.0, decay_input=True)
    assert p.beta_mem == pytest.approx(0.5) and p.gain == pytest.approx(0.5)
    assert p.reset == "zero" and p.tau_syn is None
    q = LIFParams.from_spikingjelly(tau=4.0, decay_input=False, v_reset=None)
    assert q.beta_mem == pytest.approx(0.75) and q.gain == 1.0 and q.reset == "subtract"
    with pytest.raises(ValueError, match="tau"):
        LIFParams.from_spikingjelly(tau=1.0)
    with pytest.raises(ValueError, match="v_reset"):
        LIFParams.from_spikingjelly(v_reset=-0.5)
