"""A user's own model and data through every command: --model / --data FILE.py:FUNCTION,
si.compare / si.sweep, the tutorials' output conventions and losses, bad input.

The user's file is written by the tests: an snnTorch tutorial-5 network (jeshraghian/snntorch
examples/tutorial_5_FCN.ipynb, Linear-Leaky-Linear-Leaky, the static input at every step,
(spikes, membrane) records returned), a SpikingJelly conv net with BatchNorm in the layout of
spikingjelly/activation_based/examples/conv_fashion_mnist.py (CSNN: Conv-BN-IF-pool, multi-step,
the firing rate returned) and Norse's recurrent classifier (norse/notebooks
mnist_classifiers.ipynb: LIFRecurrentCell -> Linear -> LICell, max-over-time log-softmax),
sized down, on scikit-learn's 8 x 8 digits.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

import spikeinit as si
from spikeinit import losses
from spikeinit.cli import main
from spikeinit.entry_points import (
    call_data_factory,
    call_model_factory,
    is_entry_point,
    load_entry_point,
)
from spikeinit.init.outputs import OUTPUT_SIGMA_U, READOUT_SIGMA_U

USER_FILE = textwrap.dedent(
    '''
    import torch
    import torch.nn as nn
    from sklearn.datasets import load_digits


    def snntorch_net(hidden=32, num_steps=6, beta=0.95):
        import snntorch as snn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(64, hidden)
                self.lif1 = snn.Leaky(beta=beta)
                self.fc2 = nn.Linear(hidden, 10)
                self.lif2 = snn.Leaky(beta=beta)

            def forward(self, x):
                mem1 = self.lif1.init_leaky()
                mem2 = self.lif2.init_leaky()
                spk_rec, mem_rec = [], []
                for _ in range(num_steps):
                    spk1, mem1 = self.lif1(self.fc1(x), mem1)
                    spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                    spk_rec.append(spk2)
                    mem_rec.append(mem2)
                return torch.stack(spk_rec), torch.stack(mem_rec)

        return Net()


    def sj_csnn(T=3, channels=4):
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        class CSNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.T = T
                self.conv_fc = nn.Sequential(
                    layer.Conv2d(1, channels, 3, padding=1, bias=False),
                    layer.BatchNorm2d(channels),
                    neuron.IFNode(surrogate_function=surrogate.ATan()),
                    layer.MaxPool2d(2, 2),
                    layer.Flatten(),
                    layer.Linear(channels * 4 * 4, 10, bias=False),
                    neuron.IFNode(surrogate_function=surrogate.ATan()),
                )
                functional.set_step_mode(self, step_mode="m")

            def forward(self, x):
                x_seq = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
                return self.conv_fc(x_seq).mean(0)

        return CSNN()


    def norse_net(hidden=24, seq_length=6):
        from norse.torch import LICell, LIFParameters, LIFRecurrentCell

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                p = LIFParameters(alpha=100, v_th=torch.tensor(0.5))
                self.l1 = LIFRecurrentCell(64, hidden, p=p)
                self.fc_out = nn.Linear(hidden, 10, bias=False)
                self.out = LICell()

            def forward(self, x):
                s1 = so = None
                voltages = []
                for _ in range(seq_length):
                    z, s1 = self.l1(x.view(x.shape[0], -1), s1)
                    vo, so = self.out(self.fc_out(z), so)
                    voltages.append(vo)
                y, _ = torch.max(torch.stack(voltages), 0)
                return torch.nn.functional.log_softmax(y, dim=1)

        return Net()


    def digits(batch_size=64, n=400, image=False):
        d = load_digits()
        x = torch.tensor(d.data[:n], dtype=torch.float32) / 16.0
        if image:
            x = x.view(-1, 1, 8, 8)
        y = torch.tensor(d.target[:n])
        data = torch.utils.data.TensorDataset(x, y)
        train, val = torch.utils.data.random_split(
            data, [n - 100, 100], generator=torch.Generator().manual_seed(0)
        )
        return (torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True),
                torch.utils.data.DataLoader(val, batch_size=100))


    def not_a_module():
        return 42


    def raises():
        raise RuntimeError("the factory broke")


    def one_loader():
        return [(torch.zeros(2, 64), torch.zeros(2, dtype=torch.long))]


    def triples():
        batch = [(torch.zeros(2, 64), torch.zeros(2, dtype=torch.long), 0)]
        return batch, batch


    def dict_output_net():
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = snntorch_net(hidden=8, num_steps=3)

            def forward(self, x):
                return {"spikes": self.inner(x)[0]}

        return Net()
    '''
)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "user_net.py"
    path.write_text(USER_FILE)
    return path


def _one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# -- entry points -----------------------------------------------------------------------------


def test_entry_point_text():
    assert is_entry_point("net.py:build") and is_entry_point("pkg.mod:build")
    assert is_entry_point("/abs/path/net.py:build")
    assert not is_entry_point("fc") and not is_entry_point("net.py:") and not is_entry_point(":b")
    assert not is_entry_point("net.py:not-a-name")


def test_factories_are_imported_and_checked(user_file):
    net = call_model_factory(f"{user_file}:snntorch_net", {"hidden": 8})
    assert net.fc1.out_features == 8
    train, val, test = call_data_factory(f"{user_file}:digits", {"n": 200})
    assert test is None and next(iter(train))[0].shape == (64, 64)
    assert load_entry_point("spikeinit.losses:rate_ce") is losses.rate_ce


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda f: call_model_factory(f"{f.parent}/nope.py:build"), ValueError, "does not exist"),
        (lambda f: call_model_factory(f"{f}:missing"), ValueError, "defines dict_output_net, d"),
        (lambda f: call_model_factory(f"{f}:not_a_module"), TypeError, "must return a torch"),
        (lambda f: call_model_factory(f"{f}:raises"), ValueError, "the factory broke"),
        (lambda f: call_model_factory("no_such_pkg.mod:build"), ValueError, "cannot import"),
        (lambda f: call_data_factory(f"{f}:one_loader"), TypeError, "(train, val)"),
        (lambda f: call_data_factory(f"{f}:not_a_module"), TypeError, "got int"),
    ],
)
def test_bad_factories_raise_naming_the_option(user_file, call, error, message):
    with pytest.raises(error, match=r"^--(model|data)") as info:
        call(user_file)
    assert message in str(info.value)


# -- the tutorials' losses and output conventions ----------------------------------------------


def test_rate_ce_is_snntorchs_ce_rate_loss():
    sf = pytest.importorskip("snntorch.functional")
    torch.manual_seed(0)
    spikes = (torch.rand(25, 16, 10) < 0.3).float()
    y = torch.randint(0, 10, (16,))
    assert torch.allclose(losses.rate_ce(spikes, y), sf.ce_rate_loss()(spikes, y).squeeze())


def test_step_ce_is_tutorial_5s_loop_and_rate_mse_spikingjellys():
    torch.manual_seed(1)
    mem = torch.randn(25, 16, 10)
    y = torch.randint(0, 10, (16,))
    loop = sum(torch.nn.CrossEntropyLoss()(mem[t], y) for t in range(25))  # tutorial 5
    assert torch.allclose(losses.step_ce(mem, y), loop)
    rate = torch.rand(1, 16, 10)
    onehot = torch.nn.functional.one_hot(y, 10).float()
    assert torch.allclose(losses.rate_mse(rate, y), torch.nn.functional.mse_loss(rate[0], onehot))


def test_output_conventions_pick_the_tutorials_trace_and_loss(user_file):
    from spikeinit.foreign_training import ForeignClassifier, default_loss

    x = torch.rand(5, 64)
    cases = [
        ("snntorch_net", {}, "auto", (6, 5, 10), "rate_ce"),
        ("snntorch_net", {}, "membrane", (6, 5, 10), "step_ce"),
        ("sj_csnn", {}, "auto", (1, 5, 10), "rate_mse"),
        ("norse_net", {}, "auto", (1, 5, 10), "mean"),
    ]
    for name, kw, output, shape, loss in cases:
        net = call_model_factory(f"{user_file}:{name}", kw)
        inp = x.view(5, 1, 8, 8) if name == "sj_csnn" else x
        clf = ForeignClassifier(net, inp, output=output)
        trace = clf(inp)
        assert tuple(trace.shape) == shape, name
        assert default_loss(trace, output) == loss, name
        if output == "membrane":
            assert not bool(((trace == 0) | (trace == 1)).all())  # the membrane, not spikes


def test_state_is_reset_between_batches(user_file):
    """SpikingJelly keeps membrane state between calls: the classifier resets it, so the
    same batch twice gives the same output (as functional.reset_net in the tutorial)."""
    from spikeinit.foreign_training import ForeignClassifier

    net = call_model_factory(f"{user_file}:sj_csnn")
    x = torch.rand(4, 1, 8, 8) * 3
    clf = ForeignClassifier(net, x)
    assert torch.equal(clf(x), clf(x))


def test_repeat_steps_is_snntorchs_forward_pass_loop(user_file):
    """snnTorch tutorial 6's forward_pass(net, num_steps, data) on its init_hidden Sequential,
    reproduced spike for spike; refused on a model that loops over time itself."""
    snn = pytest.importorskip("snntorch")

    from spikeinit.foreign_training import ForeignClassifier

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.MaxPool2d(2),
        snn.Leaky(beta=0.5, init_hidden=True),
        torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 10),
        snn.Leaky(beta=0.5, init_hidden=True, output=True),
    )  # fmt: skip
    x = torch.rand(6, 1, 8, 8) * 4
    # the tutorial's loop: utils.reset(net), then net(data) num_steps times (reset_mem per
    # neuron here: snntorch.utils.reset resets every Leaky of the process, other tests' too)
    for m in net.modules():
        if isinstance(m, snn.Leaky):
            m.reset_mem()
    reference = torch.stack([net(x)[0] for _ in range(7)])
    clf = ForeignClassifier(net, x, repeat_steps=7)
    assert torch.equal(clf(x), reference)
    looping = call_model_factory(f"{user_file}:snntorch_net")  # tutorial 5: loops itself
    with pytest.raises(ValueError, match="repeat_steps"):
        ForeignClassifier(looping, torch.rand(2, 64), repeat_steps=3)


def test_an_output_no_loss_understands_names_the_way_out(user_file):
    from spikeinit.foreign_training import select_output

    with pytest.raises(ValueError, match="not a tensor"):
        select_output({"logits": torch.zeros(2, 10)})
    with pytest.raises(ValueError, match="--loss FILE.py:FUNCTION"):
        select_output(torch.zeros(2, 3, 4, 5))


# -- the commands -------------------------------------------------------------------------------

SNN = ["--model-kw", "hidden=16,num_steps=4", "--data-kw", "n=300", "--epochs", "1"]


def test_compare_sweep_train_and_diagnose_a_user_file(user_file, tmp_path, capsys):
    model, data = f"{user_file}:snntorch_net", f"{user_file}:digits"
    cmp_out = tmp_path / "cmp"
    argv = ["compare", "--model", model, "--data", data, *SNN, "--inits",
            "fluctuation,default,kaiming", "--seeds", "3", "--out", str(cmp_out)]  # fmt: skip
    assert main(argv) == 0
    res = json.loads((cmp_out / "results.json").read_text())
    assert {r["params"]["init"] for r in res["trials"]} == {"fluctuation", "default", "kaiming"}
    assert all(r["status"] == "ok" and r["dataset"]["loss"] == "rate_ce" for r in res["trials"])
    report = (cmp_out / "report.md").read_text()
    assert "Loss: rate_ce" in report and "--data" in report and "randman" not in report
    assert (cmp_out / "learning_curves.png").exists()
    # the fluctuation trial's init report marks the output layer
    fl = next(r for r in res["trials"] if r["params"]["init"] == "fluctuation")
    outputs = [la for la in fl["init"]["layers"] if la["output"]]
    assert [la["name"] for la in outputs] == ["lif2"]

    sw_out = tmp_path / "sw"
    assert main(["sweep", "--model", model, "--data", data, *SNN, "--grid", "sigma_u=0.5,1",
                 "--engine", "inprocess", "--out", str(sw_out)]) == 0  # fmt: skip
    sw = json.loads((sw_out / "results.json").read_text())
    assert sorted(r["params"]["sigma_u"] for r in sw["trials"]) == [0.5, 1.0]
    # the factories' keyword arguments reach every trial (--data-kw n=300: 200 train samples)
    assert all(r["spec"]["dataset_kw"] == {"n": 300} for r in sw["trials"])
    assert all(r["spec"]["model_kw"] == {"hidden": 16, "num_steps": 4} for r in sw["trials"])
    assert "sigma_u" in (sw_out / "report.md").read_text()

    tr_out = tmp_path / "train"
    assert main(["train", "--model", model, "--data", data, *SNN, "--out", str(tr_out)]) == 0
    assert (tr_out / "best.pt").exists() and (tr_out / "metrics.jsonl").exists()

    for source, out in ((["--model", model, "--data", data, *SNN[:4], "--init", "fluctuation"],
                         tmp_path / "diag"),
                        ([str(cmp_out / "fluctuation-seed0")], tmp_path / "diag2")):  # fmt: skip
        assert main(["diagnose", *source, "--out", str(out)]) == 0
        layers = json.loads((out / "results.json").read_text())["layers"]
        assert [la["name"] for la in layers] == ["lif1", "lif2"]
        assert (out / "report.md").exists()


@pytest.mark.parametrize(
    "name,data_kw,extra",
    [
        # SpikingJelly conv + BatchNorm, firing-rate output
        ("sj_csnn", "image=true", ["--lr", "1e-2", "--model-kw", "channels=8"]),
        # Norse recurrent cell + LI readout, log-softmax output
        ("norse_net", "", ["--lr", "1e-2"]),
    ],
)
def test_spikingjelly_and_norse_models_train(user_file, tmp_path, name, data_kw, extra):
    out = tmp_path / name
    argv = ["compare", "--model", f"{user_file}:{name}", "--data", f"{user_file}:digits",
            "--data-kw", f"n=400{',' + data_kw if data_kw else ''}", "--epochs", "3",
            "--inits", "fluctuation,default", "--seeds", "1", "--out", str(out),
            *extra]  # fmt: skip
    assert main(argv) == 0
    trials = json.loads((out / "results.json").read_text())["trials"]
    assert all(r["status"] == "ok" for r in trials)
    expected = {"sj_csnn": "rate_mse", "norse_net": "mean"}[name]
    assert {r["dataset"]["loss"] for r in trials} == {expected}
    # it learns: after 2 epochs every run is above chance (10 %)
    assert all(r["metrics"]["test_accuracy"] > 0.2 for r in trials), trials


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--model", "{d}/nope.py:build", "--data", "{f}:digits"], "does not exist"),
        (["--model", "{f}:nothing", "--data", "{f}:digits"], "has no function 'nothing'"),
        (["--model", "{f}:not_a_module", "--data", "{f}:digits"], "must return a torch.nn"),
        (["--model", "{f}:raises", "--data", "{f}:digits"], "the factory broke"),
        (["--model", "{f}:snntorch_net", "--data", "{f}:one_loader"], "(train, val)"),
        (["--model", "{f}:snntorch_net", "--data", "{f}:triples"], "(x, y)"),
        (["--model", "{f}:dict_output_net", "--data", "{f}:digits"], "not a tensor"),
        (["--model", "{f}:snntorch_net", "--dataset", "digits"], "needs data of your own"),
        (["--model", "nope", "--data", "{f}:digits"], "FILE.py:FUNCTION"),
        (["--model", "{f}:snntorch_net", "--data", "digits"], "FILE.py:FUNCTION"),
        (["--model", "{f}:snntorch_net", "--data", "{f}:digits", "--loss", "bogus"], "bogus"),
        (["--model", "{f}:snntorch_net", "--data", "{f}:digits", "--model-kw", "x"], "KEY=VALUE"),
        (["--model", "{f}:snntorch_net", "--data", "{f}:digits", "--model-kw", "nope=1"],
         "unexpected keyword"),
        (["--model", "{f}:snntorch_net", "--data", "{f}:digits", "--readout", "-1"], "> 0"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    user_file, tmp_path, capsys, argv, message
):
    out = tmp_path / "out"
    argv = [a.format(f=user_file, d=tmp_path) for a in argv]
    try:
        code = main(["compare", *argv, "--epochs", "1", "--seeds", "1", "--out", str(out)])
    except SystemExit as exc:  # a usage error, from argparse
        code = exc.code
    assert code == 2
    line = _one_line_error(capsys.readouterr().err)
    assert message in line, line
    assert not out.exists() or not any(out.rglob("*.json"))


# -- Python API ---------------------------------------------------------------------------------


def test_python_api_runs_the_same_engine(user_file, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_net_api", user_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kw = {"model_kw": {"hidden": 16, "num_steps": 4}, "data_kw": {"n": 300}}
    records = si.compare(module.snntorch_net, module.digits, inits=["fluctuation", "default"],
                         seeds=1, epochs=1, out=tmp_path / "cmp", **kw)  # fmt: skip
    assert [r["params"]["init"] for r in records] == ["fluctuation", "default"]
    assert (tmp_path / "cmp" / "report.md").exists()
    # the command gives the same metrics (seeded)
    argv = ["compare", "--model", f"{user_file}:snntorch_net", "--data", f"{user_file}:digits",
            "--model-kw", "hidden=16,num_steps=4", "--data-kw", "n=300", "--epochs", "1",
            "--inits", "fluctuation,default", "--seeds", "1",
            "--out", str(tmp_path / "cli")]  # fmt: skip
    assert main(argv) == 0
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())["trials"]
    assert [r["metrics"] for r in cli] == [r["metrics"] for r in records]

    swept = si.sweep(f"{user_file}:snntorch_net", f"{user_file}:digits",
                     grid={"readout": ["auto", 1.0]}, epochs=1, engine="inprocess",
                     out=tmp_path / "sw", **kw)  # fmt: skip
    assert sorted(str(r["params"]["readout"]) for r in swept) == ["1.0", "auto"]
    with pytest.raises(TypeError, match="top level of a file"):
        si.compare(lambda: None, module.digits, out=tmp_path / "x")
    with pytest.raises(ValueError, match="^inits: unknown"):  # the keyword, not the flag
        si.compare(module.snntorch_net, module.digits, inits=["nope"], out=tmp_path / "y")
    with pytest.raises(ValueError, match="grid"):
        si.sweep(module.snntorch_net, module.digits, grid={}, out=tmp_path / "z")


def test_diagnose_every_records_the_layers_and_does_not_change_training(user_file, tmp_path):
    base = ["train", "--model", f"{user_file}:snntorch_net", "--data", f"{user_file}:digits",
            "--model-kw", "hidden=16,num_steps=4", "--data-kw", "n=300", "--epochs", "3",
            "--init", "fluctuation"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--diagnose-every", "2", "--out", str(tmp_path / "probed")]) == 0

    def history(name):
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    plain, probed = history("plain"), history("probed")
    assert [("activity" in r) for r in probed] == [False, True, False]  # every 2nd epoch
    layers = probed[1]["activity"]
    assert [la["name"] for la in layers] == ["lif1", "lif2"]
    assert all(la["sigma_u_theta"] > 0 and 0 <= la["silent_fraction"] <= 1 for la in layers)
    for a, b in zip(plain, probed, strict=True):
        assert a["train_loss"] == b["train_loss"] and a["val_acc"] == b["val_acc"]
    assert (tmp_path / "probed" / "activity_during_training.png").exists()
    assert "activity_during_training.png" in (tmp_path / "probed" / "report.md").read_text()


def test_a_sweep_file_names_the_user_model_and_its_keyword_arguments(user_file, tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(textwrap.dedent(f'''
        [grid]
        model_kw = [{{hidden = 8, num_steps = 4}}, {{hidden = 16, num_steps = 4}}]
        [fixed]
        model = "{user_file}:snntorch_net"
        dataset = "{user_file}:digits"
        data_kw = {{n = 300}}
        epochs = 1
        diagnose_every = 1
    '''))
    out = tmp_path / "sw"
    assert main(["sweep", "--config", str(config), "--engine", "inprocess",
                 "--out", str(out)]) == 0  # fmt: skip
    trials = json.loads((out / "results.json").read_text())["trials"]
    assert sorted(r["spec"]["model_kw"]["hidden"] for r in trials) == [8, 16]
    assert all(r["spec"]["dataset_kw"] == {"n": 300} for r in trials)
    assert all("activity" in r["history"][0] for r in trials)


def test_output_membrane_sets_the_output_layer_for_a_loss_on_its_membrane(user_file, tmp_path):
    """``--output membrane`` (the loss reads the output layer's membrane, snnTorch tutorial
    5) makes ``readout="auto"`` the membrane target; the trace alone sees both returned."""
    model, data = f"{user_file}:snntorch_net", f"{user_file}:digits"
    rules = {}
    for output in ("membrane", "auto"):
        out = tmp_path / output
        argv = ["compare", "--model", model, "--data", data, *SNN, "--inits", "fluctuation",
                "--seeds", "1", "--output", output, "--out", str(out)]  # fmt: skip
        assert main(argv) == 0
        (trial,) = json.loads((out / "results.json").read_text())["trials"]
        (layer,) = [la for la in trial["init"]["layers"] if la["output"]]
        rules[output] = (layer["target_sigma_u_theta"], layer["output_rule"])
    assert rules["membrane"][0] == READOUT_SIGMA_U and "readout='membrane'" in rules["membrane"][1]
    assert rules["auto"][0] == OUTPUT_SIGMA_U and "decoded as spikes" in rules["auto"][1]
