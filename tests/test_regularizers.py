import pytest
import torch

from spikeinit.regularizers import (
    ActivityRegularizer,
    activity_penalty,
    lower_bound,
    upper_bound,
)


def _spikes(shape, p=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


def test_per_neuron_bounds_match_direct_computation():
    s = _spikes((30, 4, 6))
    count = s.sum(0)  # [B, N]
    lo = ActivityRegularizer(2.0, 5.0, "lower", per_neuron=True)
    hi = ActivityRegularizer(0.5, 5.0, "upper", per_neuron=True)
    torch.testing.assert_close(lo(s), 2.0 * torch.relu(5.0 - count).pow(2).mean())
    torch.testing.assert_close(hi(s), 0.5 * torch.relu(count - 5.0).pow(2).mean())
    assert lo(s) > 0 and hi(s) > 0


def test_default_averages_over_units_per_sample():
    s = _spikes((30, 4, 2, 5))  # conv-like units [C, L]
    per_sample = s.sum(0).reshape(4, -1).mean(1)  # [B]
    reg = upper_bound(0.1, 4.0)
    torch.testing.assert_close(reg(s), 0.1 * torch.relu(per_sample - 4.0).pow(2).mean())
    # averaging first differs from the per-neuron penalty
    assert not torch.allclose(reg(s), upper_bound(0.1, 4.0, per_neuron=True)(s))


def test_dims_averages_over_the_given_dimension():
    s = _spikes((30, 4, 3, 5))
    count = s.sum(0)  # [B, C, L]
    reg = ActivityRegularizer(1.0, 6.0, "upper", dims=1)
    torch.testing.assert_close(reg(s), torch.relu(count.mean(1) - 6.0).pow(2).mean())
    reg2 = ActivityRegularizer(1.0, 6.0, "lower", dims=(1, 2))
    torch.testing.assert_close(reg2(s), torch.relu(6.0 - count.mean((1, 2))).pow(2).mean())
    # for a linear layer dims=1 is the same as the default
    lin = _spikes((30, 4, 7))
    torch.testing.assert_close(
        ActivityRegularizer(1.0, 6.0, dims=1)(lin), ActivityRegularizer(1.0, 6.0)(lin)
    )


def test_stork_lower_bound_penalises_silent_neurons_only():
    s = torch.zeros(20, 2, 3)
    s[:, :, 0] = 1.0  # neuron 0 fires every step; 1 and 2 are silent
    reg = lower_bound(100.0, 1e-3, per_neuron=True)
    torch.testing.assert_close(reg(s), torch.tensor(100.0 * (1e-3) ** 2 * 4 / 6))


def test_gradient_flows_to_spikes():
    s = _spikes((10, 3, 4), p=0.5).requires_grad_(True)
    upper_bound(1.0, 1.0, per_neuron=True)(s).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_activity_penalty_sums_over_selected_layers():
    a, b = _spikes((10, 2, 4), seed=1), _spikes((10, 2, 4), seed=2)
    r1 = upper_bound(1.0, 0.5)
    r2 = ActivityRegularizer(2.0, 9.0, "lower", layers=(-1,))
    total = activity_penalty([r1, r2], [a, b])
    torch.testing.assert_close(total, r1(a) + r1(b) + r2(b))
    assert activity_penalty([], [a]) is None


def test_roundtrip_and_validation():
    reg = ActivityRegularizer(0.1, 7.0, "upper", dims=(1, 2), layers=(0,))
    assert ActivityRegularizer.from_dict(reg.to_dict()) == reg
    with pytest.raises(ValueError, match="strength"):
        ActivityRegularizer(-1.0, 1.0)
    with pytest.raises(ValueError, match="threshold"):
        ActivityRegularizer(1.0, float("nan"))
    with pytest.raises(ValueError, match=r"bound must be one of \['lower', 'upper'\]"):
        ActivityRegularizer(1.0, 1.0, "middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exclusive"):
        ActivityRegularizer(1.0, 1.0, per_neuron=True, dims=1)
    with pytest.raises(ValueError, match="dims"):
        ActivityRegularizer(1.0, 1.0, dims=())
    with pytest.raises(ValueError, match="spikes must have shape"):
        upper_bound(1.0, 1.0)(torch.zeros(3, 4))
