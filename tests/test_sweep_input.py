"""`spikeinit sweep` input that used to fail silently (issue #28): a TOML key under two
spellings, a grid too large to expand, a ``[grid]`` that is not a table. Each is
refused before anything is expanded or written."""

import time

import pytest

from spikeinit.cli import main
from spikeinit.experiments import sweep


def _cli(tmp_path, *extra):
    return ["sweep", "--engine", "inprocess", "--out", str(tmp_path / "sw"), *extra]


def _refused(tmp_path, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "sw").exists()
    return err


@pytest.mark.parametrize("table", ["grid", "fixed"])
def test_toml_key_under_two_spellings_is_refused(tmp_path, capsys, table):
    cfg = tmp_path / "s.toml"
    if table == "grid":
        cfg.write_text("[grid]\nsigma_u = [0.5, 1]\nsigma-u = [2, 4]\n")
    else:
        cfg.write_text("[grid]\nlr = [0.01]\n[fixed]\nsigma_u = 0.5\nsigma-u = 2\n")
    with pytest.raises(ValueError, match="given twice"):
        sweep.load_toml(cfg)
    err = _refused(tmp_path, capsys, _cli(tmp_path, "--config", str(cfg)), "given twice")
    assert f"{table}.sigma_u" in err and "'sigma-u'" in err


@pytest.mark.parametrize(
    "text,message",
    [
        ("grid = 5\n", "grid must be a table ([grid] with name = [values] lines), got 5"),
        ('fixed = "lr"\n[grid]\nlr = [0.1]\n', "fixed must be a table"),
        ("seeds = 1000000000\n[grid]\nlr = [0.1]\n", "seeds must be between 1 and 1000"),
    ],
)
def test_toml_bad_shapes_are_refused(tmp_path, capsys, text, message):
    cfg = tmp_path / "s.toml"
    cfg.write_text(text)
    _refused(tmp_path, capsys, _cli(tmp_path, "--config", str(cfg)), message)


def test_huge_cli_grid_is_refused_before_it_is_expanded(tmp_path, capsys):
    values = ",".join(str(k + 1) for k in range(1000))
    t0 = time.perf_counter()
    argv = _cli(tmp_path, "--grid", f"seed={values}", f"epochs={values}", f"batch_size={values}")
    err = _refused(tmp_path, capsys, argv, "1000000000 trials")
    assert "limit is 100000" in err and "1000 x 1000 x 1000" in err
    assert time.perf_counter() - t0 < 5  # refused at once, nothing expanded


def test_trial_count_counts_seeds_and_random_draws():
    grid = {"lr": [0.1 * (k + 1) for k in range(400)], "epochs": list(range(1, 301))}
    with pytest.raises(ValueError, match="120000 trials"):
        sweep.make_trials(grid, {}, seeds=1)
    with pytest.raises(ValueError, match=r"--random 60000 x 2 seed\(s\)"):
        sweep.make_trials(grid, {}, seeds=2, random_n=60000)
    small = {"lr": [0.1, 0.2, 0.3]}
    with pytest.raises(ValueError, match="3000 trials.*limit is 100"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(sweep, "MAX_TRIALS", 100)
            sweep.make_trials(small, {}, seeds=1000)


def test_random_draws_from_a_large_grid_without_expanding_it():
    """--random picks points by index: the same points as from the expanded grid."""
    grid = {"lr": [0.01, 0.02, 0.03], "epochs": [1, 2, 3, 4], "seed": [0, 1]}
    drawn = sweep.make_trials(grid, {}, random_n=5, base_seed=7)
    import itertools
    import random

    everything = list(itertools.product(*grid.values()))
    idx = sorted(random.Random(7).sample(range(len(everything)), 5))
    assert [tuple(t.params.values()) for t in drawn] == [everything[i] for i in idx]
    big = {"lr": [0.001 * (k + 1) for k in range(1000)], "epochs": list(range(1, 1001))}
    t0 = time.perf_counter()
    assert len(sweep.make_trials(big, {}, random_n=3)) == 3
    assert time.perf_counter() - t0 < 5
