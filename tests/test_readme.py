"""The README's 20-line example runs and does what its comments say."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_twenty_line_example_runs(capsys):
    text = README.read_text()
    section = text.split("## In 20 lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    assert len(code.strip().splitlines()) <= 25
    scope: dict = {}
    exec(compile(code, "README.md (In 20 lines)", "exec"), scope)
    report, model = scope["report"], scope["model"]
    # the comments' claims: default init silent, fluctuation init hits sigma_U = 1
    out = capsys.readouterr().out
    assert "silent" in out and "fluctuation-driven" in out
    hidden = [layer for layer in report.layers if layer.type == "SpikingLinear"]
    assert all(abs(layer.measured_sigma_u - 1.0) < 0.1 for layer in hidden)
    assert abs(scope["w"].var().item() * 700 - 6.303) < 0.3  # micheli_normal_ ran last
    assert len(model) == 3
