"""The command line parses its arguments before importing torch (issue 13), from
torch-free name lists that must equal the torch-side registries."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import spikeinit as si
from spikeinit import catalog, cli_args


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "argv,code",
    [
        (["train", "--bogus"], 2),
        (["train", "--init", "nope"], 2),
        (["propagation", "--depth", "0"], 2),
        (["nonsense"], 2),
        (["--help"], 0),
        (["sweep", "--help"], 0),
    ],
)
def test_parsing_does_not_import_torch(argv, code):
    res = _python(
        f"""
        import sys
        from spikeinit.cli import main
        try:
            main({argv!r})
        except SystemExit as exc:
            assert exc.code == {code}, exc.code
        else:
            raise AssertionError("no SystemExit")
        assert "torch" not in sys.modules, "torch was imported"
        print("torch-free")
        """
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("torch-free")
    if code == 2:  # a usage error is one line
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert "error" in res.stderr and "Traceback" not in res.stderr


def test_console_script_usage_error_is_one_line():
    res = subprocess.run(
        [sys.executable, "-m", "spikeinit.cli", "train", "--bogus"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.strip() == "spikeinit: error: unrecognized arguments: --bogus"


def test_import_spikeinit_and_catalog_do_not_import_torch():
    res = _python(
        """
        import sys
        import spikeinit, spikeinit.catalog, spikeinit.cli, spikeinit.cli_args
        assert spikeinit.__version__
        assert "torch" not in sys.modules
        spikeinit.initialize  # the first use of a public name loads its module (and torch)
        assert "torch" in sys.modules
        """
    )
    assert res.returncode == 0, res.stderr


def test_every_public_name_resolves():
    for name in si.__all__:
        assert getattr(si, name) is not None, name
        assert name in dir(si)
    assert si.initialize is si.init.model.initialize
    assert si.train.fit is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        si.nope  # noqa: B018


def test_catalog_equals_the_torch_side_registries():
    from spikeinit import losses, optim
    from spikeinit.data import registry as data_registry
    from spikeinit.experiments import sweep
    from spikeinit.init import registry

    assert list(catalog.DATASETS) == si.data.names()
    assert catalog.DATASET_ALIASES == data_registry._ALIASES
    assert list(catalog.MODELS) == si.models.names()
    assert catalog.OPTIMIZERS == optim.OPTIMIZERS
    assert catalog.SCHEDULES == optim.SCHEDULES
    assert set(catalog.LOSSES) == set(losses.LOSSES)
    assert cli_args.SWEEP_PARAMETERS == tuple(sweep.PARAMETERS)
    for entry in catalog.INIT_RULES:  # every rule's function loads
        assert callable(registry.get(entry.name).fn)


def test_parser_choices_come_from_the_catalog():
    from spikeinit.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    train = sub.choices["train"]  # type: ignore[index]
    opts = {a.dest: a for a in train._actions}
    assert list(opts["dataset"].choices) == list(catalog.DATASETS)
    # --model: a zoo name of the catalog, or a user's FILE.py:FUNCTION (no fixed choices)
    assert all(opts["model"].type(name) == name for name in catalog.MODELS)
    assert opts["model"].type("net.py:build").endswith("net.py:build")
    assert set(opts["init"].choices) == set(catalog.init_names(aliases=True))
    assert list(opts["optimizer"].choices) == list(catalog.OPTIMIZERS)
    assert all(opts["loss"].type(name) == name for name in catalog.LOSSES)
