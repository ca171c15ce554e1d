import sys
from pathlib import Path

from hypothesis import settings as hypothesis_settings

sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture
def one_thread():
    """Run a test with one torch thread, then restore the count. Time loops of many
    tiny ops (Dale and recurrent-conv layers, foreign frameworks' per-step neurons)
    can be 100x slower when OpenMP threads wait for each other on a loaded machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# Property-based tests draw the same examples on every run (CI included): a failure
# found once is found again, and a green run stays green for the same code.
hypothesis_settings.register_profile("deterministic", derandomize=True, print_blob=True)
hypothesis_settings.load_profile("deterministic")


@pytest.fixture(autouse=True)
def _snntorch_instances():
    """snnTorch keeps every neuron ever built in one class-level list
    (``SpikingNeuron.instances``) and its ``init_hidden`` resets walk all of them: a
    neuron built by one test (a ``DeltaLeaky`` or ``SLSTM`` without the state others
    have) would break another's reset. Each test gets the list as it found it."""
    neurons = sys.modules.get("snntorch._neurons.neurons")
    saved = list(neurons.SpikingNeuron.instances) if neurons is not None else []
    yield
    neurons = sys.modules.get("snntorch._neurons.neurons")
    if neurons is not None:
        neurons.SpikingNeuron.instances = saved
