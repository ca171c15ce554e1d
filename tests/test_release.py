"""The release: one version everywhere, and a wheel and sdist that work when installed.

``test_wheel_installs_and_runs`` builds the sdist and, from it, the wheel
(``python -m build --no-isolation``: the running environment's setuptools, no
network), checks what they ship, installs the wheel into a fresh virtual
environment outside the checkout and runs the command line and
``si.initialize`` there. The heavy dependencies (torch, numpy, ...) are made
visible in that environment by a ``.pth`` file naming this environment's
site-packages; ``.pth`` files are not read from a directory a ``.pth`` file
adds, so this environment's editable spikeinit is not: the test checks that
``spikeinit`` is imported from the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import spikeinit

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]


def _changelog_releases() -> list[str]:
    """The release headings of CHANGELOG.md, newest first (``## [0.1.0] - date``)."""
    text = (ROOT / "CHANGELOG.md").read_text()
    return re.findall(r"^## \[(\d+\.\d+\.\d+[^\]]*)\]", text, flags=re.M)


def test_version_is_the_same_everywhere():
    assert spikeinit.__version__ == VERSION
    releases = _changelog_releases()
    assert releases, "CHANGELOG.md has no release heading"
    assert releases[0] == VERSION, f"newest CHANGELOG release {releases[0]}, pyproject {VERSION}"


def test_changelog_keeps_an_unreleased_section():
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[(.+?)\]", text, flags=re.M)
    assert headings[0] == "Unreleased"


def test_license_metadata():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"  # an SPDX expression, not the deprecated table
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "spikeinit developers" in text
    assert (ROOT / "src" / "spikeinit" / "py.typed").is_file()


# what the built distributions must contain, beyond the code
SDIST_FILES = {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "src/spikeinit/py.typed"}
# files the sdist is built from: the ones pyproject.toml and MANIFEST.in name
BUILD_INPUTS = ["pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "MANIFEST.in"]

SMOKE = """
import pathlib, sys, torch
import spikeinit as si
here = pathlib.Path(sys.prefix).resolve()
where = pathlib.Path(si.__file__).resolve()
assert here in where.parents, f"spikeinit imported from {where}, not from {here}"
from importlib import metadata, resources
assert metadata.version("spikeinit") == si.__version__ == sys.argv[1]
assert resources.files("spikeinit").joinpath("py.typed").is_file()
torch.manual_seed(0)
p = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
model = torch.nn.Sequential(si.nn.SpikingLinear(50, 16, params=p), si.nn.Readout(16, 4, params=p))
x = (torch.rand(60, 8, 50) < 15.8 * p.dt).float()
report = si.initialize(model, x, method="fluctuation", sigma_u=1.0)
sigma = report.layers[0].sigma_u_theta
assert abs(sigma - 1.0) < 0.1, sigma
print("ok", where)
"""


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_wheel_installs_and_runs(tmp_path: Path):
    pytest.importorskip("build")
    # build from a copy of the inputs, so the checkout gets no build/ or egg-info
    src = tmp_path / "src_tree"
    src.mkdir()
    for name in BUILD_INPUTS:
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)])

    (sdist,) = dist.glob("spikeinit-*.tar.gz")
    (wheel,) = dist.glob("spikeinit-*.whl")
    assert sdist.name == f"spikeinit-{VERSION}.tar.gz"
    assert wheel.name.startswith(f"spikeinit-{VERSION}-py3-none-any")
    with tarfile.open(sdist) as tar:
        prefix = f"spikeinit-{VERSION}/"
        names = {n.removeprefix(prefix) for n in tar.getnames()}
    assert SDIST_FILES <= names, SDIST_FILES - names
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"spikeinit-{VERSION}.dist-info"
        metadata = zf.read(f"{info}/METADATA").decode()
    assert "spikeinit/py.typed" in names
    assert "spikeinit/_kernels/lif_numba.py" in names
    assert f"{info}/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)

    # a fresh environment: its own spikeinit from the wheel, the heavy dependencies
    # from this one through a .pth file (no download, no second torch)
    env = tmp_path / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)])
    python = env / "bin" / "python"
    env_site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    )
    env_site_dir = Path(env_site.stdout.strip())
    here_site = sysconfig.get_paths()["purelib"]
    (env_site_dir / "_spikeinit_test_deps.pth").write_text(here_site + "\n")
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        env=clean,
    )
    work = tmp_path / "elsewhere"  # not the checkout: no src/ on the path
    work.mkdir()
    helped = _run([str(env / "bin" / "spikeinit"), "--help"], cwd=work, env=clean)
    assert "usage: spikeinit" in helped.stdout and "propagation" in helped.stdout
    smoke = _run([str(python), "-c", SMOKE, VERSION], cwd=work, env=clean)
    assert smoke.stdout.startswith("ok "), smoke.stdout
