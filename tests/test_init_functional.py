"""Formula-level checks of spikeinit.init.functional against docs/science.md's numbers."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import spikeinit.init as init
import spikeinit.theory as th
from spikeinit.params import LIFParams

P2 = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("n, expected", [(700, 0.211), (128, 0.493)])
def test_fluctuation_worked_example(n: int, expected: float) -> None:
    mu_w, sd_w = init.fluctuation_moments(n, nu=15.8, params=P2)
    assert mu_w == 0.0
    assert sd_w == pytest.approx(expected, rel=0.01)
    w = init.fluctuation_normal_(torch.empty(400, n), nu=15.8, params=P2, generator=_gen())
    assert float(w.std()) == pytest.approx(expected, rel=0.01)


def test_fluctuation_moments_inverts_campbell() -> None:
    # membrane_moments(fluctuation_moments(targets)) must give back the targets.
    theta = 2.0
    p = P2.replace(threshold=theta)
    for mu_u, sigma_u in ((0.0, 1.0), (0.5, 0.7), (-0.3, 2.0)):
        mu_w, sd_w = init.fluctuation_moments(
            300, sigma_u=sigma_u, mu_u=mu_u, threshold=theta, nu=8.0, params=p
        )
        mu, sd = th.membrane_moments(300, 8.0, mu_w, sd_w, p)
        assert mu == pytest.approx(mu_u * theta, abs=1e-12)
        assert sd == pytest.approx(sigma_u * theta, rel=1e-12)
    # xi form: xi = (1 - mu_u) / sigma_u
    a = init.fluctuation_moments(300, mu_u=0.2, xi=0.8 / 0.5, nu=8.0, params=P2)
    b = init.fluctuation_moments(300, mu_u=0.2, sigma_u=0.5, nu=8.0, params=P2)
    assert a == pytest.approx(b)


def test_fluctuation_filtered_stats_replace_poisson_values() -> None:
    eb, eh = th.psp_integrals(P2)
    poisson = init.fluctuation_moments(100, mu_u=0.3, nu=10.0, params=P2)
    measured = init.fluctuation_moments(100, mu_u=0.3, filtered_mean=10 * eb, filtered_var=10 * eh)
    assert measured == pytest.approx(poisson)
    # a larger measured variance (super-Poisson input) lowers sigma_W by its square root
    _, sd = init.fluctuation_moments(100, filtered_var=1.5 * 10 * eh)
    _, sd0 = init.fluctuation_moments(100, nu=10.0, params=P2)
    assert sd == pytest.approx(sd0 / math.sqrt(1.5))


def test_share_and_recurrent_split() -> None:
    share_ff, share_rec = init.recurrent_shares(0.9)
    assert (share_ff, share_rec) == pytest.approx((0.9, 0.1))
    assert init.recurrent_shares(0.9, n_ff=2, n_rec=1) == pytest.approx((0.45, 0.1))
    assert init.recurrent_shares(0.5, n_rec=0) == (1.0, 0.0)
    _, sd_ff = init.fluctuation_moments(700, nu=15.8, params=P2, share=share_ff)
    _, sd_rec = init.fluctuation_moments(128, nu=20.0, params=P2, share=share_rec)
    _, eh = th.psp_integrals(P2)
    # the two groups' variances add up to sigma_U^2 = 1
    total = 700 * 15.8 * eh * sd_ff**2 + 128 * 20.0 * eh * sd_rec**2
    assert total == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alpha"):
        init.recurrent_shares(1.0)
    with pytest.raises(ValueError, match="n_ff"):
        init.recurrent_shares(0.9, n_ff=0)


def test_stork_mean_split_matches_a_transcription_of_storks_rule() -> None:
    """mean_share=stork_mean_share(...) against stork's FluctuationDrivenNormalInitializer,
    written out here from its definition: every afferent of a population gets the mean
    mu_u / (N_total nu eps_bar); the variance of group g is split by alpha (ff) or
    1 - alpha (rec) over its own fan-in, minus that common mean squared."""
    n_ff, n_rec, nu, mu_u, xi, alpha = 700, 128, 15.8, 0.5, 2.0, 0.9
    eb, eh = th.psp_integrals(P2)
    n_total = n_ff + n_rec
    sig_u = (1.0 - mu_u) / xi  # theta = 1, hard-coded in stork
    stork_mu = mu_u / (n_total * nu * eb)
    stork = {
        n: (stork_mu, math.sqrt(scale / (n * nu * eh) * sig_u**2 - stork_mu**2))
        for n, scale in ((n_ff, alpha), (n_rec, 1.0 - alpha))
    }
    ours = {
        n: init.fluctuation_moments(
            n,
            mu_u=mu_u,
            xi=xi,
            nu=nu,
            params=P2,
            share=share,
            mean_share=init.stork_mean_share(n, n_total),
        )
        for n, share in ((n_ff, alpha), (n_rec, 1.0 - alpha))
    }
    for n in (n_ff, n_rec):
        assert ours[n][0] == pytest.approx(stork[n][0], rel=1e-9, abs=0)
        assert ours[n][1] == pytest.approx(stork[n][1], rel=1e-9, abs=0)
    # spikeinit's default split (mean like the variance): +6.5 % / -35 % on the means
    ff_default = init.fluctuation_moments(n_ff, mu_u=mu_u, xi=xi, nu=nu, params=P2, share=alpha)
    rec_default = init.fluctuation_moments(
        n_rec, mu_u=mu_u, xi=xi, nu=nu, params=P2, share=1.0 - alpha
    )
    assert ff_default[0] / stork_mu == pytest.approx(alpha * n_total / n_ff)  # 1.065
    assert rec_default[0] / stork_mu == pytest.approx((1 - alpha) * n_total / n_rec)  # 0.647
    # both splits supply the same total mean: sum_g N_g mu_W,g nu eps_bar = mu_u
    for split in ((stork_mu, stork_mu), (ff_default[0], rec_default[0])):
        assert (n_ff * split[0] + n_rec * split[1]) * nu * eb == pytest.approx(mu_u)
    with pytest.raises(ValueError, match="mean_share"):
        init.fluctuation_moments(10, mu_u=0.5, nu=nu, params=P2, mean_share=0.0)
    with pytest.raises(ValueError, match="fan_in_total"):
        init.stork_mean_share(10, 5)


def test_conv_fan_in_and_threshold_scaling() -> None:
    w = torch.empty(16, 4, 3, 5)
    init.fluctuation_normal_(w, nu=15.8, params=P2.replace(threshold=2.0), generator=_gen())
    _, sd = init.fluctuation_moments(60, nu=15.8, params=P2)
    assert float(w.std()) == pytest.approx(2.0 * sd, rel=0.05)
    w2 = torch.empty(64, 8, 5)
    init.micheli_normal_(w2, generator=_gen())
    assert float(w2.var()) == pytest.approx(6.303 / 40, rel=0.06)


def test_fluctuation_determinism() -> None:
    a = init.fluctuation_normal_(torch.empty(30, 20), 5.0, P2, generator=_gen(7))
    b = init.fluctuation_normal_(torch.empty(30, 20), 5.0, P2, generator=_gen(7))
    assert torch.equal(a, b)


def test_fluctuation_errors() -> None:
    with pytest.raises(
        ValueError, match=r"unreachable.*mu_u=0\.9.*sigma_u=0\.05.*xi=2.*larger sigma_u"
    ):
        init.fluctuation_moments(10, mu_u=0.9, sigma_u=0.05, nu=15.8, params=P2)
    with pytest.raises(ValueError, match="nu .* must be > 0"):
        init.fluctuation_moments(10, nu=0.0, params=P2)
    with pytest.raises(ValueError, match="nu must be finite"):
        init.fluctuation_moments(10, nu=float("nan"), params=P2)
    with pytest.raises(ValueError, match="fan_in must be an integer >= 1"):
        init.fluctuation_moments(0, nu=1.0, params=P2)
    with pytest.raises(ValueError, match="filtered_var must be > 0"):
        init.fluctuation_moments(10, filtered_mean=0.1, filtered_var=0.0)
    with pytest.raises(ValueError, match="params"):
        init.fluctuation_moments(10, nu=1.0)
    with pytest.raises(ValueError, match="nu .* is required"):
        init.fluctuation_moments(10, params=P2)
    with pytest.raises(ValueError, match="either sigma_u or xi"):
        init.fluctuation_moments(10, nu=1.0, params=P2, sigma_u=1.0, xi=1.0)
    with pytest.raises(ValueError, match="xi"):
        init.fluctuation_moments(10, nu=1.0, params=P2, xi=-1.0)
    with pytest.raises(ValueError, match="sigma_u must be > 0"):
        init.fluctuation_moments(10, nu=1.0, params=P2, sigma_u=0.0)
    with pytest.raises(ValueError, match="share"):
        init.fluctuation_moments(10, nu=1.0, params=P2, share=1.5)
    with pytest.raises(ValueError, match="filtered_mean"):
        init.fluctuation_moments(10, mu_u=0.5, filtered_var=0.1, filtered_mean=0.0)
    with pytest.raises(ValueError, match="at least 2 dims"):
        init.fluctuation_normal_(torch.empty(5), 1.0, P2)


def test_dale_shares_stork_sizes() -> None:
    pe = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
    pi = LIFParams(tau_mem=20e-3, tau_syn=20e-3, dt=2e-3)
    we, wi, wr = torch.empty(128, 700), torch.empty(128, 32), torch.empty(128, 128)
    lam = init.dale_exponential_(
        we, wi, params_exc=pe, params_inh=pi, nu=15.8, w_rec_exc=wr, generator=_gen()
    )
    assert lam.share_inh == pytest.approx(0.95, abs=0.005)
    assert lam.share_ff == pytest.approx(0.044, abs=0.001)
    assert lam.share_rec == pytest.approx(0.005, abs=0.0005)
    # SCIENCE.md's closed forms for equal rates
    eb_e, eh_e = th.psp_integrals(pe)
    eb_i, eh_i = th.psp_integrals(pi)
    d_rec = math.sqrt(0.9 * 128 / (0.1 * 700))
    d_ei = d_rec * 32 * eb_i / (eb_e * (d_rec * 700 + 128))
    assert lam.delta_rec == pytest.approx(d_rec) and lam.delta_ei == pytest.approx(d_ei)
    assert lam.lambda_rec == pytest.approx(d_rec * lam.lambda_ff)
    assert lam.lambda_inh == pytest.approx(d_ei * lam.lambda_ff)
    # total variance (E[w^2] = 2 / lambda^2) hits sigma_U = 1; mean balanced
    nu = 15.8
    var = (
        2
        * nu
        * (
            700 * eh_e / lam.lambda_ff**2
            + 128 * eh_e / lam.lambda_rec**2
            + 32 * eh_i / lam.lambda_inh**2
        )
    )
    mean = nu * (
        700 * eb_e / lam.lambda_ff + 128 * eb_e / lam.lambda_rec - 32 * eb_i / lam.lambda_inh
    )
    assert var == pytest.approx(1.0) and mean == pytest.approx(0.0, abs=1e-12)
    assert float(we.min()) >= 0 and float(wi.min()) >= 0 and float(wr.min()) >= 0
    assert float(we.mean()) == pytest.approx(1 / lam.lambda_ff, rel=0.02)
    assert float(wi.mean()) == pytest.approx(1 / lam.lambda_inh, rel=0.05)


def test_dale_without_recurrence_matches_science_formula() -> None:
    pe = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
    pi = LIFParams(tau_mem=20e-3, tau_syn=20e-3, dt=2e-3)
    lam = init.dale_exponential_(
        torch.empty(50, 700), torch.empty(50, 32), params_exc=pe, params_inh=pi, nu=15.8, xi=2.0
    )
    eb_e, eh_e = th.psp_integrals(pe)
    eb_i, eh_i = th.psp_integrals(pi)
    d = 32 * eb_i / (700 * eb_e)
    lam_ff = 2.0 * math.sqrt(2) * math.sqrt(d**2 * 700 * 15.8 * eh_e + 32 * 15.8 * eh_i) / d
    assert lam.lambda_ff == pytest.approx(lam_ff) and lam.lambda_inh == pytest.approx(d * lam_ff)
    assert lam.lambda_rec is None and lam.share_rec == 0.0


def test_dale_errors() -> None:
    pe = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
    with pytest.raises(ValueError, match="nu .*exc.* must be > 0"):
        init.dale_exponential_(
            torch.empty(4, 5), torch.empty(4, 2), params_exc=pe, params_inh=pe, nu=-1.0
        )
    with pytest.raises(ValueError, match="alpha"):
        init.dale_exponential_(
            torch.empty(4, 5),
            torch.empty(4, 2),
            params_exc=pe,
            params_inh=pe,
            nu=1.0,
            w_rec_exc=torch.empty(4, 4),
            alpha=1.0,
        )
    with pytest.raises(ValueError, match="filtered_inh"):
        init.dale_exponential_(
            torch.empty(4, 5),
            torch.empty(4, 2),
            params_exc=pe,
            params_inh=pe,
            nu=1.0,
            filtered_inh=(0.1, 0.0),
        )


@pytest.mark.parametrize("theta, n_var", [(0.5, 3.241), (1.0, 6.303), (2.0, 43.96)])
def test_micheli_table(theta: float, n_var: float) -> None:
    assert 100 * init.micheli_variance(100, theta) == pytest.approx(n_var, rel=1e-3)
    w = init.micheli_normal_(torch.empty(500, 100), threshold=theta, generator=_gen())
    assert float(w.var()) * 100 == pytest.approx(n_var, rel=0.02)


def test_micheli_reset_forms() -> None:
    assert init.micheli_reset_variance(1, 0.5, 1.0, "public") == pytest.approx(13.50, abs=0.01)
    assert init.micheli_reset_variance(1, 0.5, 1.0, "covariance") == pytest.approx(5.41, abs=0.01)
    # the two forms differ only in the cross term, phi vs phi / p
    p, phi = stats.norm.sf(1.0), stats.norm.pdf(1.0)
    diff = init.micheli_reset_variance(1, 0.5, 1.0, "public") - init.micheli_reset_variance(
        1, 0.5, 1.0, "covariance"
    )
    assert diff == pytest.approx(2 * 0.5 * (phi / p - phi) / p)
    # beta = 0 without reset coupling: 1 - theta^2 p (1 - p) over p
    assert init.micheli_reset_variance(1, 0.0, 1.0) == pytest.approx((1 - p * (1 - p)) / p)
    w = init.micheli_reset_normal_(torch.empty(400, 200), beta=0.5, generator=_gen())
    assert float(w.var()) * 200 == pytest.approx(5.41, rel=0.03)
    # the numerator is positive for every beta in [0, 1); p underflows to 0 at theta = 40
    with pytest.raises(ValueError, match=r"threshold=40 is too large.*1 - Phi\(theta\) = 0"):
        init.micheli_reset_variance(1, 0.5, 40.0)
    with pytest.raises(ValueError, match="form"):
        init.micheli_reset_variance(1, 0.5, 1.0, "other")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beta"):
        init.micheli_reset_variance(1, 1.5)


def _expected_finite_gain(n: int, theta: float, margin_divisor: float, r: int = 1000) -> float:
    """E[n Var[w]] of the finite-width rule from the binomial law of the tail count.

    The tail count ``k`` of ``n`` standard-normal draws is Binomial(n, Q(theta)); the
    bootstrap mean of the resampled tail fractions is ``k / n`` and their standard
    deviation ``sqrt(f (1 - f) / n)`` (up to O(1/sqrt(R)) noise), so
    ``n Var[w] = 1 / (f - 1.96 sqrt(f (1 - f) / n) / margin_divisor)``.
    """
    k = torch.arange(0, n + 1, dtype=torch.float64)
    pmf = torch.from_numpy(stats.binom.pmf(k.numpy(), n, stats.norm.sf(theta)))
    f = k / n
    p = (f - 1.96 * (f * (1 - f) / n).sqrt() / margin_divisor).clamp_min(0.5 / n)
    return float((pmf / p).sum())


def test_micheli_finite_width_public_rule_matches_the_binomial_expectation() -> None:
    """The public code subtracts 1.96 * sd / sqrt(R): n Var averages 6.79 at n = 100
    (6.37 at n = 1000); the one-resample margin (1.96 * sd) gives 13.3 (7.40)."""
    n, r = 100, 1000
    public = _expected_finite_gain(n, 1.0, math.sqrt(r))
    resample = _expected_finite_gain(n, 1.0, 1.0)
    assert public == pytest.approx(6.79, abs=0.01) and resample == pytest.approx(13.3, abs=0.1)
    for margin, expected in (("mean", public), ("resample", resample)):
        g = _gen(3)
        fw = init.micheli_finite_width_variance
        var = [fw(n, generator=g, margin=margin) for _ in range(400)]
        draws = n * torch.tensor(var)
        se = float(draws.std()) / 20
        assert float(draws.mean()) == pytest.approx(expected, abs=4 * se)
    # n = 1000: public 6.37 (6.33 at the true tail probability), one-resample 7.40
    g = _gen(4)
    draws = torch.tensor(
        [1000 * init.micheli_finite_width_variance(1000, generator=g) for _ in range(60)]
    )
    expected = _expected_finite_gain(1000, 1.0, math.sqrt(r))
    assert expected == pytest.approx(6.37, abs=0.01)
    assert float(draws.mean()) == pytest.approx(expected, abs=4 * float(draws.std()) / 60**0.5)


def test_micheli_finite_width() -> None:
    n = 1000
    w = init.micheli_finite_width_normal_(torch.empty(200, n), generator=_gen(2))
    # p_hat is the empirical tail fraction of n draws (less a margin of ~0.0007)
    se = math.sqrt(stats.norm.sf(1.0) * stats.norm.cdf(1.0) / n)
    p_hat = 1.0 / (n * float(w.var()))
    assert p_hat == pytest.approx(stats.norm.sf(1.0), abs=4 * se)
    # tiny fan-in, high threshold: the tail fraction is 0 and the floor 0.5 / n applies
    w = init.micheli_finite_width_normal_(torch.empty(2000, 4), threshold=5.0, generator=_gen())
    assert float(w.var()) == pytest.approx(1.0 / (4 * 0.5 / 4), rel=0.05)
    with pytest.raises(ValueError, match="margin"):
        init.micheli_finite_width_normal_(torch.empty(3, 3), margin="other")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_bootstrap"):
        init.micheli_finite_width_normal_(torch.empty(3, 3), n_bootstrap=1)
    with pytest.raises(ValueError, match="threshold"):
        init.micheli_normal_(torch.empty(3, 3), threshold=-1.0)


def test_baselines() -> None:
    w = torch.empty(300, 200)
    assert float(init.kaiming_normal_(w, generator=_gen()).var()) == pytest.approx(
        2 / 200, rel=0.02
    )
    assert float(init.glorot_normal_(w, generator=_gen()).var()) == pytest.approx(2 / 500, rel=0.02)
    u = init.default_uniform_(w, generator=_gen())
    assert float(u.var()) == pytest.approx(1 / 600, rel=0.02)
    assert float(u.abs().max()) <= 1 / math.sqrt(200)
    # conv: fan_in = in * k, fan_out = out * k
    c = init.glorot_normal_(torch.empty(32, 16, 9), generator=_gen())
    assert float(c.var()) == pytest.approx(2 / (16 * 9 + 32 * 9), rel=0.03)
    # PyTorch's own default for Linear has the same bound
    lin = torch.nn.Linear(200, 300)
    assert float(lin.weight.detach().abs().max()) <= 1 / math.sqrt(200)
