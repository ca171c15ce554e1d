"""perez_nieves: a target rate of one spike per step or more is refused (issue #28); the
diffusion estimate used to return a weight scale for it (sigma_W = 363 at 2000 Hz, dt 1 ms)."""

from __future__ import annotations

import pytest
import torch

import spikeinit as si
from spikeinit.init.perez_nieves import perez_nieves_normal_, perez_nieves_std

MS1 = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3)


@pytest.mark.parametrize("approx", ["diffusion", "auto", "threshold"])
@pytest.mark.parametrize("rate", [1000.0, 2000.0])
def test_rate_of_one_spike_per_step_or_more_is_refused(approx, rate) -> None:
    with pytest.raises(ValueError, match=r"target_rate=\d+ Hz .*below 1/dt = 1000 Hz"):
        perez_nieves_std(
            100, filtered_mean=0.1, filtered_var=0.1, target_rate=rate, params=MS1, approx=approx
        )


def test_reachable_rate_below_one_per_step_still_works() -> None:
    sd = perez_nieves_std(
        100, filtered_mean=0.1, filtered_var=0.1, target_rate=20.0, params=MS1, approx="diffusion"
    )
    assert 0 < sd < 10


def test_in_place_rule_refuses_and_leaves_the_weights() -> None:
    w = torch.ones(8, 20)
    presyn = (torch.rand(50, 2, 20, generator=torch.Generator().manual_seed(0)) < 0.1).float()
    with pytest.raises(ValueError, match="target_rate=2000 Hz"):
        perez_nieves_normal_(w, presyn, MS1, target_rate=2000.0, approx="diffusion")
    assert torch.equal(w, torch.ones(8, 20))
