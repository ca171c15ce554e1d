"""``spikeinit propagation``: Micheli et al.'s deep activity-propagation experiment.

Set-up (docs/science.md, section 'The propagation experiment'). A deep
feed-forward stack of ``depth`` LIF layers run for ``steps`` time steps from
zero state, no gradient. By default it is **Micheli et al.'s own set-up** (their
public code, AuroraMicheli/Weight-Initialization-SNN):

* **Neuron** (``--neuron snntorch``, default): snnTorch's ``Leaky``, delta
  synapse, input scale 1, and with ``--reset subtract`` snnTorch's *undecayed*
  subtract reset ``U[t] = beta U[t-1] + I[t] - theta S[t-1]``.
  ``--neuron reference`` is spikeinit's reference neuron, whose subtract reset is
  decayed with the membrane, ``U[t] = beta (U[t-1] - theta S[t-1]) + I[t]``. The
  zero reset is the same in both.
* **Input** (``--input static``, default): layer 1 is a LIF layer of
  ``input_width`` (784) neurons fed a static "image", one i.i.d. N(0, 1) vector
  per sample, as a current that is the same at every step; layer 2 maps 784 to
  ``width``. ``--input gaussian``: layer 1 has ``width`` neurons and fresh
  i.i.d. N(0, 1) current per neuron, sample and step. ``--input poisson``: layer
  1 also has weights and is fed i.i.d. Bernoulli spike trains at
  ``p0 = 1 - Phi(theta)`` per step (Micheli's fixed-point rate). In every case
  ``Var[U_1] = 1`` at t = 0 (no weights before layer 1 for static/gaussian).
* **Bias** (``--bias default``): every weighted layer is an ``nn.Linear`` with
  PyTorch's default bias ``U(-1/sqrt(n), 1/sqrt(n))`` (n = fan-in), which the
  inits leave alone, as in the public code. ``--bias none``: no bias.

``depth`` counts LIF layers, layer 1 included (as the public code counts its
"10-layer" MLP). Layers 2..depth receive ``W_l s_{l-1} (+ b_l)`` with ``W_l``
drawn by the chosen init.

* **Recorded** per layer and step: the firing rate (spikes per neuron per step,
  averaged over batch and neurons), ``Var[U]`` and ``E[U]`` of the membrane
  *before* reset (population statistics over batch and neurons at that step).
* **Reference profile** for the band criterion: the per-step rate of the first
  spiking population (layer 1 for static/gaussian input, the input trains for
  poisson).
* **Data-dependent inits** (``fluctuation``, ``balanced_cal``) are fitted on a
  separate calibration batch of the same size and input distribution; all
  reported numbers come from the evaluation batch.

Beyond the paper: ``balanced`` and ``balanced_cal`` (see
:func:`spikeinit.init.propagation_rules.balanced_normal_` and
:func:`spikeinit.init.propagation_rules.calibrate_profile_`).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import torch
from scipy import stats

from .. import theory
from ..catalog import (
    INIT_RULES,
    MICHELI_INPUT_WIDTH,
    PROPAGATION_BIASES,
    PROPAGATION_INPUTS,
    PROPAGATION_NEURONS,
    init_names,
)
from ..cli_run import resolve_device
from ..init import functional as F
from ..init import registry
from ..init.registry import RuleContext
from ..neuron import lif_sequence
from ..params import Convention, LIFParams
from .common import (
    new_figure,
    progress,
    save_figure,
    write_report,
    write_results,
)

#: init names accepted by ``--inits``: every rule of the registry (spikeinit.init.registry)
INITS: tuple[str, ...] = init_names(model_only=False)
DATA_DEPENDENT = tuple(r.name for r in INIT_RULES if r.data_dependent)
BAND = (0.5, 2.0)
#: ``--input``, ``--neuron``, ``--bias`` (spikeinit.catalog, which the parser reads)
INPUTS = PROPAGATION_INPUTS
NEURONS = PROPAGATION_NEURONS
BIASES = PROPAGATION_BIASES
INPUT_WIDTH = MICHELI_INPUT_WIDTH


# -- the experiment -----------------------------------------------------------------------
def init_gain(
    init: str, width: int, threshold: float, beta: float, form: F.ResetForm = "covariance"
) -> float | None:
    """``c = n Var[w]`` of a data-independent, i.i.d. zero-mean init (None otherwise)."""
    p = float(stats.norm.sf(threshold))
    if init == "micheli":
        return 1.0 / p
    if init == "micheli_reset":
        return F.micheli_reset_variance(width, beta, threshold, form) * width
    if init == "kaiming":
        return 2.0
    if init == "glorot":
        return 1.0
    if init == "default":
        return 1.0 / 3.0
    return None


def _init_weight(
    init: str,
    width: int,
    n_in: int,
    params: LIFParams,
    beta: float,
    presyn_cal: torch.Tensor | None,
    target: torch.Tensor | None,
    gen: torch.Generator,
    form: F.ResetForm = "covariance",
) -> torch.Tensor:
    ctx = RuleContext(
        threshold=params.threshold,
        beta=beta,
        generator=gen,
        params=params,
        presyn=None if presyn_cal is None else presyn_cal.cpu(),
        target=target,
        form=form,
    )
    return registry.get(init).fn(torch.empty(width, n_in), ctx)


def _layer_stats(spikes: torch.Tensor, mem: torch.Tensor) -> dict[str, list[float]]:
    steps = mem.shape[0]
    flat_u = mem.reshape(steps, -1).double()
    return {
        "rate": spikes.reshape(steps, -1).double().mean(dim=1).tolist(),
        "var_u": flat_u.var(dim=1, unbiased=False).tolist(),
        "mean_u": flat_u.mean(dim=1).tolist(),
    }


def _lif(current: torch.Tensor, params: LIFParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane ``U`` (before reset) of one layer, ``[T, B, n]`` each."""
    out = lif_sequence(current, params, return_mem=True)
    assert isinstance(out, tuple)
    return out


def _default_bias(width: int, n_in: int, gen: torch.Generator) -> torch.Tensor:
    """PyTorch's ``nn.Linear`` default bias, ``U(-1/sqrt(n_in), 1/sqrt(n_in))``."""
    bound = 1.0 / n_in**0.5
    return torch.empty(width).uniform_(-bound, bound, generator=gen)


def simulate(
    init: str,
    width: int,
    depth: int,
    steps: int = 10,
    batch: int = 64,
    *,
    beta: float = 0.5,
    threshold: float = 1.0,
    reset: str = "subtract",
    input_kind: str = "static",
    seed: int = 0,
    device: torch.device | str = "cpu",
    neuron: str = "snntorch",
    bias: str = "default",
    input_width: int = INPUT_WIDTH,
    form: F.ResetForm = "covariance",
    return_weights: bool = False,
) -> dict[str, Any]:
    """One propagation run; returns ``{"init", "width", "layers", "summary", ...}``.

    The defaults are Micheli et al.'s set-up (module docstring): snnTorch's
    neuron, a static N(0, 1) image into an ``input_width``-wide input LIF layer,
    PyTorch's default bias. ``form`` is the reset-aware rule's form
    (:func:`spikeinit.init.micheli_reset_normal_`).

    ``layers[d-1]`` is ``{"depth": d, "rate": [...], "var_u": [...], "mean_u": [...]}``
    with one entry per time step. Weights (then the layer's bias) are drawn on the
    CPU from a generator seeded with ``seed`` (the same for every init, so normal
    inits share their standard-normal draws); inputs from ``seed + 1``
    (evaluation) and ``seed + 2`` (calibration batch for data-dependent inits).
    With ``return_weights`` the result also holds ``"weights"``, the ``(W, b)`` of
    layers 2..depth (``b`` None without bias), and ``"x"`` the evaluation input.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if input_kind not in INPUTS:
        raise ValueError(f"input must be one of {', '.join(INPUTS)}, got {input_kind!r}")
    if neuron not in NEURONS:
        raise ValueError(f"neuron must be one of {', '.join(NEURONS)}, got {neuron!r}")
    if bias not in BIASES:
        raise ValueError(f"bias must be one of {', '.join(BIASES)}, got {bias!r}")
    if isinstance(input_width, bool) or not isinstance(input_width, int) or input_width < 1:
        raise ValueError(f"input_width must be an integer >= 1, got {input_width!r}")
    if form not in ("covariance", "public"):
        raise ValueError(f"form must be 'covariance' or 'public', got {form!r}")
    convention: Convention = "snntorch" if neuron == "snntorch" else "spikeinit"
    params = LIFParams.from_snntorch(
        beta=beta, threshold=threshold, reset_mechanism=reset, convention=convention
    )
    dev = torch.device(device)
    t_start = time.perf_counter()
    gen_w = torch.Generator().manual_seed(seed)
    needs_cal = init in DATA_DEPENDENT
    p0 = float(stats.norm.sf(threshold))

    def draw_input(s: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(s)
        if input_kind == "static":
            return torch.randn(1, batch, input_width, generator=g).repeat(steps, 1, 1)
        if input_kind == "gaussian":
            return torch.randn(steps, batch, width, generator=g)
        return (torch.rand(steps, batch, width, generator=g) < p0).float()

    x_eval = draw_input(seed + 1).to(dev)
    x_cal = draw_input(seed + 2).to(dev) if needs_cal else None
    layers: list[dict[str, Any]] = []
    scales: list[float] = []
    weights: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    with torch.no_grad():
        if input_kind != "poisson":
            s_eval, u_eval = _lif(x_eval, params)
            layers.append({"depth": 1, **_layer_stats(s_eval, u_eval)})
            s_cal = _lif(x_cal, params)[0] if x_cal is not None else None
            ref = torch.tensor(layers[0]["rate"], dtype=torch.float64)
            first = 2
        else:
            s_eval, s_cal = x_eval, x_cal
            ref = torch.full((steps,), p0, dtype=torch.float64)
            first = 1
        target = s_cal.mean(dim=(1, 2)).double() if s_cal is not None else None
        if input_kind == "poisson" and target is not None:
            target = torch.full((steps,), p0, dtype=torch.float64)
        n_in = s_eval.shape[-1]
        for d in range(first, depth + 1):
            w = _init_weight(init, width, n_in, params, beta, s_cal, target, gen_w, form).to(dev)
            b = _default_bias(width, n_in, gen_w).to(dev) if bias == "default" else None
            scales.append(float(w.pow(2).sum(dim=1).mean()))
            if return_weights:
                weights.append((w, b))
            s_eval, u_eval = _lif(torch.nn.functional.linear(s_eval, w, b), params)
            layers.append({"depth": d, **_layer_stats(s_eval, u_eval)})
            if s_cal is not None:
                s_cal = _lif(torch.nn.functional.linear(s_cal, w, b), params)[0]
            n_in = width
    rates = torch.tensor([ly["rate"] for ly in layers], dtype=torch.float64)
    extra: dict[str, Any] = {"weights": weights, "x": x_eval} if return_weights else {}
    return {
        **extra,
        "init": init,
        "width": width,
        "depth": depth,
        "layers": layers,
        "gain_per_layer": scales,
        "neuron": neuron,
        "input": input_kind,
        "bias": bias,
        "form": form,
        "theory_var_t0": _theory_var_t0(init, width, depth, threshold, beta, layers, first, form),
        "summary": _summary(rates, ref, threshold),
        "seconds": time.perf_counter() - t_start,
    }


def _theory_var_t0(
    init: str,
    width: int,
    depth: int,
    threshold: float,
    beta: float,
    layers: list[dict[str, Any]],
    first: int,
    form: F.ResetForm = "covariance",
) -> list[float] | None:
    """Infinite-width t = 0 map ``Var_{l+1} = c Q(theta / sqrt(Var_l))`` from layer 1's Var
    (the bias's variance ``1/(3n)`` is left out)."""
    c = init_gain(init, width, threshold, beta, form)
    if c is None:
        return None
    v = layers[0]["var_u"][0] if first == 2 else c * float(stats.norm.sf(threshold))
    out = [v]
    for _ in range(len(layers) - 1):
        v = theory.micheli_variance_map(v, c, threshold)
        out.append(v)
    return out


def _summary(rates: torch.Tensor, ref: torch.Tensor, threshold: float) -> dict[str, Any]:
    """Headline numbers of one run (rates: ``[depth, T]``; ref: ``[T]``)."""
    p = float(stats.norm.sf(threshold))
    total = rates.sum(dim=1)
    silent = (total == 0).nonzero()
    ratio = rates / ref.clamp_min(1e-12)[None, :]
    last_t0 = float(rates[-1, 0])
    return {
        "p_theory": p,
        "rate_t0_last": last_t0,
        "rate_t0_last_rel_err": (last_t0 - p) / p,
        "rate_mean_last": float(rates[-1].mean()),
        "first_silent_depth": int(silent[0, 0]) + 1 if len(silent) else None,
        "ratio_min": float(ratio.min()),
        "ratio_max": float(ratio.max()),
        "within_band": bool(ratio.min() >= BAND[0] and ratio.max() <= BAND[1]),
    }


# -- figures and report -----------------------------------------------------------------
def _figures(runs: list[dict[str, Any]], out: str, threshold: float) -> list[str]:
    import matplotlib.cm as cm

    p = float(stats.norm.sf(threshold))
    names: list[str] = []
    widths = sorted({r["width"] for r in runs})
    for width in widths:
        sel = [r for r in runs if r["width"] == width]
        fig, axes = new_figure(2, len(sel), size=(3.6, 3.0))
        for j, run in enumerate(sel):
            rates = [ly["rate"] for ly in run["layers"]]
            var = [ly["var_u"] for ly in run["layers"]]
            depths = [ly["depth"] for ly in run["layers"]]
            steps = len(rates[0])
            for t in range(steps):
                color = cm.viridis(t / max(1, steps - 1))
                axes[0][j].plot(depths, [r[t] for r in rates], color=color, lw=1)
                axes[1][j].plot(depths, [max(v[t], 1e-6) for v in var], color=color, lw=1)
            axes[0][j].axhline(p, color="k", ls=":", lw=1)
            if run["theory_var_t0"] is not None:
                tv = [max(v, 1e-6) for v in run["theory_var_t0"]]
                axes[1][j].plot(depths, tv, "r--", lw=1, label="theory t=0")
                axes[1][j].legend(fontsize=7)
            axes[0][j].set_title(f"{run['init']} (width {width})", fontsize=9)
            axes[1][j].set_yscale("log")
            axes[1][j].set_ylim(1e-6, 100)
            axes[1][j].set_xlabel("layer")
            if j == 0:
                axes[0][j].set_ylabel("rate (spikes/neuron/step)")
                axes[1][j].set_ylabel("Var[U] (before reset)")
        fig.suptitle(f"colour = time step 0 (purple) .. {steps - 1} (yellow); dotted: 1-Phi(theta)")
        name = f"propagation_w{width}.png"
        save_figure(fig, out, name)
        names.append(name)
    fig, axes = new_figure(1, 1, size=(6.5, 4.2))
    ax = axes[0][0]
    for run in runs:
        depths = [ly["depth"] for ly in run["layers"]]
        ax.plot(
            depths, [ly["rate"][0] for ly in run["layers"]], label=f"{run['init']} w={run['width']}"
        )
    ax.axhline(p, color="k", ls=":", lw=1, label="1 - Phi(theta)")
    ax.set_xlabel("layer")
    ax.set_ylabel("rate at t = 0")
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, out, "rate_t0_vs_depth.png")
    names.append("rate_t0_vs_depth.png")
    return names


NEURON_TEXT = {
    "snntorch": "snnTorch Leaky (U[t] = beta U[t-1] + I[t] - theta S[t-1])",
    "reference": "spikeinit's reference LIF (the subtract reset decays with U)",
}
INPUT_TEXT = {
    "static": "has {n} LIF neurons fed a static i.i.d. N(0, 1) image, the same current every step.",
    "gaussian": "receives fresh i.i.d. N(0, 1) current at every step.",
    "poisson": "receives W s from Bernoulli trains at p0 = {p:.4f} per step.",
}


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _report(config: dict[str, Any], runs: list[dict[str, Any]], figures: list[str]) -> str:
    theta = config["threshold"]
    p = float(stats.norm.sf(theta))
    c_star = theory.micheli_collapse_constant(theta)
    lines = [
        "# Activity propagation (Micheli et al. 2024)",
        "",
        f"Command: `{config['argv']}`",
        "",
        f"Neurons: {NEURON_TEXT[config['neuron']]}, beta = {config['beta']}, theta = {theta}, "
        f"{config['reset']} reset; input {config['input']}; bias {config['bias']}; "
        f"T = {config['steps']} steps, batch {config['batch']}, seed {config['seed']}. Layer 1 "
        + INPUT_TEXT[config["input"]].format(p=p, n=config["input_width"])
        + (
            " Layers 2.. receive W s + b, b ~ U(+-1/sqrt(fan-in))."
            if config["bias"] == "default"
            else " Layers 2.. receive W s (no bias)."
        ),
        "",
        f"Theory: 1 - Phi(theta) = {p:.4f}; Micheli gain c = 1/(1 - Phi(theta)) = {1 / p:.3f}; "
        f"collapse constant c* = {c_star:.3f} (c/c* = "
        f"{(p**-1 / c_star if c_star > 0 else math.inf):.3f}); "
        f"fixed-point slope {theory.micheli_fixed_point_slope(theta):.3f} "
        f"(stable below theta = {theory.micheli_stability_bound():.3f}).",
        "",
        "Rate = spikes per neuron per step. `ratio` = rate / reference rate at the same step "
        f"(reference: {'input trains' if config['input'] == 'poisson' else 'layer 1'}); "
        f"band = [{BAND[0]}, {BAND[1]}] over every layer and step.",
        "",
    ]
    depth = config["depth"]
    probe = [d for d in (1, 10, 20, 50, 100) if d <= depth]
    if depth not in probe:
        probe.append(depth)
    head = " | ".join(f"t0 L{d}" for d in probe)
    lines += [
        f"| init | width | c = n Var[w] | {head} | mean-t rate L{depth} | t0 err L{depth} "
        "| first silent layer | ratio min..max | in band | s |",
        "|" + "---|" * (len(probe) + 9),
    ]
    for run in runs:
        s = run["summary"]
        c = init_gain(run["init"], run["width"], theta, config["beta"], config["form"])
        if run["init"] in ("balanced", "balanced_cal", "fluctuation", "micheli_finite"):
            c = sum(run["gain_per_layer"]) / max(1, len(run["gain_per_layer"]))
        t0 = " | ".join(_fmt(run["layers"][d - 1]["rate"][0]) for d in probe)
        lines.append(
            f"| {run['init']} | {run['width']} | {_fmt(c)} | {t0} | {_fmt(s['rate_mean_last'])} "
            f"| {100 * s['rate_t0_last_rel_err']:+.1f} % | {s['first_silent_depth'] or 'none'} "
            f"| {s['ratio_min']:.3f}..{s['ratio_max']:.3f} | {'yes' if s['within_band'] else 'no'} "
            f"| {run['seconds']:.1f} |"
        )
    lines += ["", "Findings:", ""]
    for run in runs:
        s = run["summary"]
        if s["first_silent_depth"] is not None:
            what = f"falls silent (no spike at any step) from layer {s['first_silent_depth']}"
        else:
            what = (
                f"keeps spiking to layer {depth}: t = 0 rate {s['rate_t0_last']:.4f} "
                f"({100 * s['rate_t0_last_rel_err']:+.1f} % from 1 - Phi(theta))"
            )
        lines.append(f"- {run['init']}, width {run['width']}: {what}.")
    lines += ["", "Figures: " + ", ".join(f"`{f}`" for f in figures), ""]
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    config = {
        "depth": args.depth,
        "widths": args.width,
        "steps": args.steps,
        "inits": args.inits,
        "input": args.input,
        "input_width": args.input_width,
        "neuron": args.neuron,
        "bias": args.bias,
        "form": args.form,
        "reset": args.reset,
        "beta": args.beta,
        "threshold": args.threshold,
        "batch": args.batch,
        "seed": args.seed,
    }
    config["argv"] = (
        f"spikeinit propagation --depth {args.depth} --width {','.join(map(str, args.width))} "
        f"--steps {args.steps} --inits {','.join(args.inits)} --input {args.input} "
        f"--input-width {args.input_width} --neuron {args.neuron} --bias {args.bias} "
        f"--form {args.form} "
        f"--reset {args.reset} --beta {args.beta} --threshold {args.threshold} "
        f"--batch {args.batch} --seed {args.seed} --out {args.out}"
    )
    jobs = [(w, i) for w in args.width for i in args.inits]
    runs = []
    for width, init in progress(jobs, total=len(jobs), desc="propagation"):
        runs.append(
            simulate(
                init,
                width,
                args.depth,
                args.steps,
                args.batch,
                beta=args.beta,
                threshold=args.threshold,
                reset=args.reset,
                input_kind=args.input,
                seed=args.seed,
                device=device,
                neuron=args.neuron,
                bias=args.bias,
                input_width=args.input_width,
                form=args.form,
            )
        )
    figures = _figures(runs, args.out, args.threshold)
    extra: dict[str, Any] = {"runs": runs, "figures": figures}
    if len(runs) == 1:
        extra["layers"] = runs[0]["layers"]
    write_results(args.out, "propagation", config, device, **extra)
    write_report(args.out, _report(config, runs, figures))
    for r in runs:
        s = r["summary"]
        print(
            f"{r['init']:>14} width {r['width']:>5}: t0 rate at layer {args.depth} "
            f"{s['rate_t0_last']:.4f} (1-Phi = {s['p_theory']:.4f}), first silent layer "
            f"{s['first_silent_depth'] or 'none'}, per-step ratio "
            f"{s['ratio_min']:.3f}..{s['ratio_max']:.3f}"
        )
    print(f"wrote {args.out}/results.json, report.md and {len(figures)} figures")
    return 0
