"""Command-line conventions shared by every command (`--out --seed --device`, errors)."""

from __future__ import annotations

import pytest
import torch

from spikeinit.cli import build_parser, main


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_out_seed_device(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--out", "--seed", "--device"):
        assert opt in text, f"{command} --help lacks {opt}"


def _one_line_error(err: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["propagation", "--depth", "0"],
        ["propagation", "--depth", "101"],
        ["propagation", "--width", "abc"],
        ["propagation", "--width", "100,-5"],
        ["propagation", "--inits", "nonsense"],
        ["propagation", "--inits", "micheli,nonsense"],
        ["propagation", "--beta", "1.5"],
        ["propagation", "--threshold", "-1"],
        ["propagation", "--steps", "x"],
        ["theory", "--sigmas", "abc"],
        ["theory", "--neurons", "0"],
        ["propagation", "--seed", "abc"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--out", str(tmp_path)])
    assert exc.value.code == 2
    _one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("command", ["propagation", "theory", "demo"])
@pytest.mark.parametrize("device", ["cuda", "nonsense-device"])
def test_unavailable_device_is_a_user_error(command, device, capsys, tmp_path):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is available here")
    out = tmp_path / "o"
    rc = main([command, "--device", device, "--out", str(out)])
    assert rc == 2
    _one_line_error(capsys.readouterr().err)
    assert not (out / "results.json").exists()


def test_progress_bar_on_stderr_and_seed_reproducible(tmp_path, capsys):
    import json

    argv = [
        "propagation",
        "--depth",
        "4",
        "--width",
        "30",
        "--steps",
        "2",
        "--batch",
        "4",
        "--inits",
        "micheli,balanced",
        "--seed",
        "3",
    ]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "propagation" in err and "%|" in err  # tqdm bar
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "results.json").read_text())["runs"]
    b = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    assert [r["layers"] for r in a] == [r["layers"] for r in b]
