"""``spikeinit theory``: fluctuation-driven theory against simulation.

Set-up (docs/science.md, section 'Firing-rate predictions', the SHD setting):
``N = 700`` Poisson inputs at
``nu = 15.8`` Hz, ``dt = 2`` ms, ``tau_mem = 20`` ms, ``tau_syn = 10`` ms,
theta = 1, reset to zero. For every target ``(sigma_U, mu_U)`` on a grid, the
weights come from :func:`spikeinit.init.fluctuation_normal_` (numerical PSP
integrals; every grid point uses the same seed, so the standard-normal draws are
shared). ``--neurons`` postsynaptic neurons and ``--batch`` independent input
samples are simulated for ``--burn-in`` + ``--steps`` steps from zero state; the
first ``--burn-in`` steps (default 0.2 s = 10 tau_mem) are discarded.

Measured, per grid point:

* free membrane (threshold and reset off): ``mu_U`` (mean over time, neurons,
  samples) and ``sigma_U`` = sqrt of the per-neuron temporal variance averaged
  over neurons and samples (docs/science.md, section 'What sigma_U measures'),
  plus the spread of the
  per-neuron time means;
* with threshold and reset: the firing rate (Hz) and the membrane's sigma.

Predicted: Campbell's ``mu_U``, ``sigma_U`` (numerical and analytical PSP
integrals) and four firing-rate approximations, computed by
:func:`spikeinit.theory.rate_predictions`:

* ``gauss``: ``P(U > theta) = 1 - Phi((theta - mu_U) / sigma_U)`` per step
  (:func:`spikeinit.theory.firing_probability`), divided by ``dt``;
* ``gauss_het``: the same with the across-neuron spread of means added,
  ``sigma_tot^2 = sigma_U^2 + s^2``, ``s = sqrt(N) nu eps_bar sigma_W``;
* ``upcross``: per-step up-crossing probability of the free membrane,
  ``P(U[t-1] < theta <= U[t])`` for a Gaussian process with the kernel's lag-1
  correlation ``rho = sum K[k] K[k+1] / sum K[k]^2``, averaged over the neurons'
  means ``m ~ N(mu_U, s^2)`` (Gauss-Hermite quadrature). It ignores re-firing
  after the reset.
* ``siegert`` (the recommended one): the LIF first-passage rate with reset
  (Siegert formula) with Fourcaud & Brunel's (2002) coloured-noise correction,
  averaged over the neurons' means as above::

      1 / rate = tau_mem sqrt(pi) int_{(V_r - m)/sigma_w + a}^{(theta - m)/sigma_w + a}
                 exp(u^2) (1 + erf u) du,
      sigma_w = sigma_U sqrt(2 (tau_mem + tau_syn) / tau_mem),
      a = (|zeta(1/2)| / sqrt 2) sqrt(tau_syn / tau_mem)

  (``sigma_w``: the amplitude of the white noise, ``tau_mem dV = (m - V) dt +
  sigma_w sqrt(tau_mem) dW``, whose synaptically filtered free membrane has std
  ``sigma_U``; ``V_r = 0``).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np
import torch

from .. import theory
from ..cli_args import UserError
from ..cli_run import resolve_device
from ..init import functional as F
from ..neuron import lif_sequence
from ..params import LIFParams
from .common import (
    new_figure,
    progress,
    save_figure,
    write_report,
    write_results,
)

RATE_MODELS = ("gauss", "gauss_het", "upcross", "siegert")


def eps_table(tau_mem: float, tau_syn: float, dts: tuple[float, ...]) -> list[dict[str, float]]:
    """Numerical and analytical ``(eps_bar, eps_hat)`` for each ``dt`` (seconds)."""
    rows = []
    for dt in dts:
        p = LIFParams(tau_mem=tau_mem, tau_syn=tau_syn, dt=dt)
        nb, nh = theory.psp_integrals(p)
        ab, ah = theory.psp_integrals(p, mode="analytical")
        rows.append(
            {"dt": dt, "eps_bar_num": nb, "eps_hat_num": nh, "eps_bar_an": ab, "eps_hat_an": ah}
        )
    return rows


def simulate_grid(
    sigmas: list[float],
    mus: list[float],
    *,
    n_inputs: int = 700,
    nu: float = 15.8,
    neurons: int = 256,
    batch: int = 4,
    steps: int = 1000,
    burn_in: int = 100,
    dt: float = 2e-3,
    tau_mem: float = 20e-3,
    tau_syn: float = 10e-3,
    threshold: float = 1.0,
    reset: str = "zero",
    seed: int = 0,
    device: torch.device | str = "cpu",
    show_progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the grid; one dict per ``(sigma_u, mu_u)`` with targets, predictions, measurements."""
    params = LIFParams(
        tau_mem=tau_mem,
        tau_syn=tau_syn,
        dt=dt,
        threshold=threshold,
        reset=reset,  # type: ignore[arg-type]
    )
    free_params = params.replace(reset="none")
    eb, eh = theory.psp_integrals(params)
    eb_an, eh_an = theory.psp_integrals(params, mode="analytical")
    rho = theory.lag1_correlation(params)
    dev = torch.device(device)
    total = burn_in + steps
    g_in = torch.Generator().manual_seed(seed + 1)
    lam = torch.full((total, batch, n_inputs), nu * dt)
    x = torch.poisson(lam, generator=g_in).to(dev)
    points = [(s, m) for s in sigmas for m in mus]
    it = progress(points, total=len(points), desc="theory") if show_progress else iter(points)
    rows: list[dict[str, Any]] = []
    for sigma_u, mu_u in it:
        row: dict[str, Any] = {"sigma_u": sigma_u, "mu_u": mu_u}
        try:
            mu_w, sd_w = F.fluctuation_moments(
                n_inputs, sigma_u=sigma_u, mu_u=mu_u, threshold=threshold, nu=nu, params=params
            )
        except ValueError as exc:
            row["unreachable"] = str(exc)
            rows.append(row)
            continue
        w = torch.empty(neurons, n_inputs)
        F.fluctuation_normal_(
            w, nu, params, sigma_u, mu_u, generator=torch.Generator().manual_seed(seed)
        )
        w = w.to(dev)
        with torch.no_grad():
            cur = torch.nn.functional.linear(x, w)
            free = lif_sequence(cur, free_params, return_mem=True)[1][burn_in:].double()
            spikes, mem = lif_sequence(cur, params, return_mem=True)
            spikes, mem = spikes[burn_in:].double(), mem[burn_in:].double()
        theta = threshold
        pred_mu, pred_sigma = theory.membrane_moments(n_inputs, nu, mu_w, sd_w, params)
        spread = math.sqrt(n_inputs) * nu * eb * sd_w
        row.update(
            mu_w=mu_w,
            sigma_w=sd_w,
            pred_mu_u=pred_mu,
            pred_sigma_u=pred_sigma,
            pred_mu_u_analytical=n_inputs * nu * mu_w * eb_an,
            pred_sigma_u_analytical=math.sqrt(n_inputs * nu * (sd_w**2 + mu_w**2) * eh_an),
            pred_spread=spread,
            meas_mu_u=float(free.mean()),
            meas_sigma_u=float(free.var(dim=0, unbiased=False).mean().sqrt()),
            meas_spread=float(free.mean(dim=0).std()),
            meas_sigma_u_thresholded=float(mem.var(dim=0, unbiased=False).mean().sqrt()),
            meas_rate_hz=float(spikes.mean()) / dt,
            pred_rate_hz=theory.rate_predictions(
                pred_mu, pred_sigma, spread, rho, theta, dt, tau_mem, tau_syn
            ),
            mu_se=spread / math.sqrt(neurons),
        )
        row["sigma_rel_err"] = (row["meas_sigma_u"] - pred_sigma) / pred_sigma
        row["sigma_rel_err_analytical"] = (
            row["meas_sigma_u"] - row["pred_sigma_u_analytical"]
        ) / row["pred_sigma_u_analytical"]
        row["mu_abs_err"] = row["meas_mu_u"] - pred_mu
        row["rate_rel_err"] = {
            k: (v - row["meas_rate_hz"]) / row["meas_rate_hz"] if row["meas_rate_hz"] > 0 else None
            for k, v in row["pred_rate_hz"].items()
        }
        rows.append(row)
    return rows


def summarise(rows: list[dict[str, Any]], rate_tol: float = 0.25) -> dict[str, Any]:
    """Largest errors, and where each rate model misses by more than ``rate_tol``."""
    ok = [r for r in rows if "unreachable" not in r]
    out: dict[str, Any] = {
        "points": len(rows),
        "unreachable": len(rows) - len(ok),
        "max_sigma_rel_err": max((abs(r["sigma_rel_err"]) for r in ok), default=None),
        "max_sigma_rel_err_analytical": max(
            (abs(r["sigma_rel_err_analytical"]) for r in ok), default=None
        ),
        "max_mu_abs_err": max((abs(r["mu_abs_err"]) for r in ok), default=None),
        "max_mu_err_in_se": max((abs(r["mu_abs_err"]) / r["mu_se"] for r in ok), default=None),
        "rate_tolerance": rate_tol,
    }
    for model in RATE_MODELS:
        errs = [
            (r["sigma_u"], r["mu_u"], r["rate_rel_err"][model], r["meas_rate_hz"])
            for r in ok
            if r["rate_rel_err"][model] is not None
        ]
        bad = [e for e in errs if abs(e[2]) > rate_tol]
        out[f"rate_{model}"] = {
            "max_abs_rel_err": max((abs(e[2]) for e in errs), default=None),
            "median_abs_rel_err": float(np.median([abs(e[2]) for e in errs])) if errs else None,
            "breaks_down_at": [
                {"sigma_u": s, "mu_u": m, "rel_err": e, "meas_rate_hz": rt} for s, m, e, rt in bad
            ],
        }
    return out


def _figure(rows: list[dict[str, Any]], out: str) -> str:
    ok = [r for r in rows if "unreachable" not in r]
    fig, axes = new_figure(1, 3, size=(4.2, 4.0))
    mus = sorted({r["mu_u"] for r in ok})
    cmap = __import__("matplotlib.cm", fromlist=["cm"]).coolwarm
    color = {m: cmap(i / max(1, len(mus) - 1)) for i, m in enumerate(mus)}
    ax = axes[0][0]
    for r in ok:
        ax.plot(r["pred_sigma_u"], r["meas_sigma_u"], "o", color=color[r["mu_u"]])
        ax.plot(r["pred_sigma_u_analytical"], r["meas_sigma_u"], "x", color=color[r["mu_u"]])
    hi = max(r["meas_sigma_u"] for r in ok) * 1.1
    ax.plot([0, hi], [0, hi], "k:", lw=1)
    ax.set_xlabel("predicted sigma_U (o numerical eps, x analytical)")
    ax.set_ylabel("measured sigma_U (free membrane)")
    ax = axes[0][1]
    for r in ok:
        ax.plot(r["pred_mu_u"], r["meas_mu_u"], "o", color=color[r["mu_u"]])
    lo_m = min(r["pred_mu_u"] for r in ok) - 0.1
    hi_m = max(r["pred_mu_u"] for r in ok) + 0.1
    ax.plot([lo_m, hi_m], [lo_m, hi_m], "k:", lw=1)
    ax.set_xlabel("predicted mu_U")
    ax.set_ylabel("measured mu_U (free membrane)")
    ax = axes[0][2]
    marks = {"gauss": "s", "gauss_het": "^", "upcross": "v", "siegert": "o"}
    for model, mk in marks.items():
        xs = [r["pred_rate_hz"][model] for r in ok if r["meas_rate_hz"] > 0]
        ys = [r["meas_rate_hz"] for r in ok if r["meas_rate_hz"] > 0]
        ax.plot(xs, ys, mk, ms=4, label=model, alpha=0.8)
    ax.plot([1e-2, 500], [1e-2, 500], "k:", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted rate (Hz)")
    ax.set_ylabel("measured rate (Hz)")
    ax.legend(fontsize=8)
    fig.suptitle("fluctuation-driven init: theory vs simulation (colour: mu_U, blue = low)")
    name = "theory_check.png"
    save_figure(fig, out, name)
    return name


def _report(config: dict[str, Any], rows: list[dict[str, Any]], summ: dict[str, Any]) -> str:
    eps = eps_table(config["tau_mem"], config["tau_syn"], (1e-3, 2e-3))
    lines = [
        "# Fluctuation-driven theory vs simulation",
        "",
        f"Command: `{config['argv']}`",
        "",
        f"N = {config['n_inputs']} Poisson inputs at {config['nu']} Hz, dt = "
        f"{config['dt'] * 1e3:g} ms, tau_mem = {config['tau_mem'] * 1e3:g} ms, tau_syn = "
        f"{config['tau_syn'] * 1e3:g} ms, theta = {config['threshold']}, reset {config['reset']}; "
        f"{config['neurons']} neurons x {config['batch']} samples x {config['steps']} steps "
        f"after {config['burn_in']} burn-in steps; weights from fluctuation_normal_ "
        "(numerical PSP integrals).",
        "",
        "## PSP integrals: numerical vs analytical",
        "",
        "| dt | eps_bar numerical | eps_bar analytical | eps_hat numerical | eps_hat analytical "
        "| sigma_U ratio sqrt(num/an) |",
        "|---|---|---|---|---|---|",
    ]
    for e in eps:
        lines.append(
            f"| {e['dt'] * 1e3:g} ms | {e['eps_bar_num']:.6f} s | {e['eps_bar_an']:.6f} s "
            f"| {e['eps_hat_num']:.7f} s | {e['eps_hat_an']:.7f} s "
            f"| {math.sqrt(e['eps_hat_num'] / e['eps_hat_an']):.4f} |"
        )
    s = summ
    lines += [
        "",
        "## Results",
        "",
        "- Largest relative error of sigma_U (numerical eps): "
        f"**{100 * s['max_sigma_rel_err']:.2f} %** "
        f"over {s['points'] - s['unreachable']} grid points ({s['unreachable']} unreachable).",
        f"- The same with the analytical (continuous-time) eps: "
        f"{100 * s['max_sigma_rel_err_analytical']:.2f} %: the discrete kernel matters.",
        f"- Largest absolute error of mu_U: {s['max_mu_abs_err']:.4f} (units of theta), at most "
        f"{s['max_mu_err_in_se']:.2f} standard errors: with frozen weights each neuron's mean "
        "spreads by `spread` (about 0.97 sigma_U), so the population mean of "
        f"{config['neurons']} neurons has standard error spread / sqrt(neurons).",
    ]
    for model in RATE_MODELS:
        m = s[f"rate_{model}"]
        bad = m["breaks_down_at"]
        where = ", ".join(
            f"(sigma {b['sigma_u']:g}, mu {b['mu_u']:g}: {100 * b['rel_err']:+.0f} %)" for b in bad
        )
        lines.append(
            f"- Rate model `{model}`: median |error| {100 * (m['median_abs_rel_err'] or 0):.1f} %, "
            f"max {100 * (m['max_abs_rel_err'] or 0):.0f} %; off by more than "
            f"{100 * s['rate_tolerance']:.0f} % ((prediction - measured) / measured) "
            f"at {len(bad)} points" + (f": {where}." if bad else ".")
        )
    lines += [
        "",
        "| sigma_U | mu_U | pred sigma | meas sigma | err | err (analytical eps) | pred mu "
        "| meas mu | spread pred/meas | rate meas Hz | gauss | gauss_het | upcross | siegert |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "unreachable" in r:
            lines.append(
                f"| {r['sigma_u']:g} | {r['mu_u']:g} | unreachable | | | | | | | | | | | |"
            )
            continue
        pr = r["pred_rate_hz"]
        lines.append(
            f"| {r['sigma_u']:g} | {r['mu_u']:g} | {r['pred_sigma_u']:.4f} "
            f"| {r['meas_sigma_u']:.4f} "
            f"| {100 * r['sigma_rel_err']:+.2f} % | {100 * r['sigma_rel_err_analytical']:+.1f} % "
            f"| {r['pred_mu_u']:+.3f} | {r['meas_mu_u']:+.3f} "
            f"| {r['pred_spread']:.3f}/{r['meas_spread']:.3f} | {r['meas_rate_hz']:.3g} "
            f"| {pr['gauss']:.3g} | {pr['gauss_het']:.3g} | {pr['upcross']:.3g} "
            f"| {pr.get('siegert', float('nan')):.3g} |"
        )
    lines += ["", "Figure: `theory_check.png`", ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.burn_in < 0:
        raise UserError(f"--burn-in must be >= 0, got {args.burn_in}")
    if args.steps < 2:
        raise UserError(f"--steps must be >= 2, got {args.steps}")
    if args.nu * args.dt >= 1:
        raise UserError(f"--nu * --dt must be < 1 (spikes per step), got {args.nu * args.dt:g}")
    if min(args.tau_mem, args.tau_syn) <= args.dt:
        raise UserError("--tau-mem and --tau-syn must be larger than --dt")
    config = {
        "sigmas": args.sigmas,
        "mus": args.mus,
        "n_inputs": args.n_inputs,
        "nu": args.nu,
        "neurons": args.neurons,
        "batch": args.batch,
        "steps": args.steps,
        "burn_in": args.burn_in,
        "dt": args.dt,
        "tau_mem": args.tau_mem,
        "tau_syn": args.tau_syn,
        "threshold": args.threshold,
        "reset": args.reset,
        "seed": args.seed,
    }
    config["argv"] = (
        f"spikeinit theory --sigmas {','.join(f'{s:g}' for s in args.sigmas)} "
        f"--mus {','.join(f'{m:g}' for m in args.mus)} --neurons {args.neurons} "
        f"--batch {args.batch} --steps {args.steps} --seed {args.seed} --out {args.out}"
    )
    rows = simulate_grid(
        args.sigmas,
        args.mus,
        n_inputs=args.n_inputs,
        nu=args.nu,
        neurons=args.neurons,
        batch=args.batch,
        steps=args.steps,
        burn_in=args.burn_in,
        dt=args.dt,
        tau_mem=args.tau_mem,
        tau_syn=args.tau_syn,
        threshold=args.threshold,
        reset=args.reset,
        seed=args.seed,
        device=device,
    )
    if all("unreachable" in r for r in rows):
        raise UserError(f"every target on the grid is unreachable: {rows[0]['unreachable']}")
    summ = summarise(rows)
    fig = _figure(rows, args.out)
    eps = eps_table(args.tau_mem, args.tau_syn, (1e-3, 2e-3))
    write_results(
        args.out, "theory", config, device, grid=rows, summary=summ, eps=eps, figures=[fig]
    )
    write_report(args.out, _report(config, rows, summ))
    print(
        f"max |sigma_U error| {100 * summ['max_sigma_rel_err']:.2f} % (analytical eps: "
        f"{100 * summ['max_sigma_rel_err_analytical']:.1f} %), max |mu_U error| "
        f"{summ['max_mu_abs_err']:.4f}; rate models median |err|: "
        + ", ".join(
            f"{m} {100 * (summ[f'rate_{m}']['median_abs_rel_err'] or 0):.0f} %" for m in RATE_MODELS
        )
    )
    print(f"wrote {args.out}/results.json, report.md and {fig}")
    return 0
