"""The shared argument checks (spikeinit._validate): kind errors are TypeError, range
errors ValueError, and every message names the parameter, what is allowed and the value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikeinit import _validate as V


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: V.real("beta", "0.9"), TypeError, "beta must be a real number, got str"),
        (lambda: V.real("beta", True), TypeError, "beta must be a real number, got bool"),
        (lambda: V.finite("mu_u", math.inf), ValueError, "mu_u must be finite, got inf"),
        (
            lambda: V.positive_finite("dt", 0.0),
            ValueError,
            "dt must be a finite number > 0, got 0.0",
        ),
        (lambda: V.positive_finite("lr", "x", error=ValueError), ValueError, "lr must be a real"),
        (
            lambda: V.nonneg_finite("strength", -1),
            ValueError,
            "strength must be a finite number >= 0",
        ),
        (
            lambda: V.finite_in("p", 1.5, 0, 1),
            ValueError,
            r"p must be a finite number in [0, 1], got 1.5",
        ),
        (lambda: V.finite_in("p", 0, 0, 1, lo_open=True), ValueError, "in (0, 1]"),
        (lambda: V.integer("epochs", 0, 1), ValueError, "epochs must be an integer >= 1, got 0"),
        (lambda: V.integer("k", 5, 0, 3), ValueError, "k must be an integer in [0, 3], got 5"),
        (lambda: V.integer("k", 1.0, 0), ValueError, "k must be an integer >= 0, got 1.0"),
        (lambda: V.positive_int("width", True), ValueError, "width must be a positive integer"),
        (
            lambda: V.one_of("loss", "mse", ("max", "sum")),
            ValueError,
            "loss must be one of ['max', 'sum'], got 'mse'",
        ),
    ],
)
def test_bad_values_name_parameter_allowed_and_value(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_good_values_are_returned_converted():
    assert V.real("x", np.float32(0.5)) == 0.5 and isinstance(V.real("x", 1), float)
    assert V.integer("n", np.int64(3), 1) == 3 and type(V.integer("n", np.int64(3), 1)) is int
    assert V.positive_finite("dt", 1e-3) == 1e-3
    assert V.nonneg_finite("s", 0) == 0.0
    assert V.finite_in("p", 1.0, 0, 1) == 1.0
    assert V.positive_int("w", 7) == 7
    assert V.one_of("loss", "max", ("max", "sum")) == "max"
