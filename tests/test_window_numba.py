"""Window dot products and the strided transposed convolution built on them
(spikeinit._kernels.window_numba) against naive loops and torch's conv1d_input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.grad import conv1d_input

from spikeinit._kernels import sparse_conv_backend

pytestmark = [
    pytest.mark.skipif(sparse_conv_backend() is None, reason="numba is not installed"),
    pytest.mark.usefixtures("one_thread"),
]


@pytest.mark.parametrize(
    "cn,h,en,nwin", [(3, 3, 15, 7), (16, 16, 80, 68), (5, 2, 9, 4), (4, 4, 8, 1)]
)
def test_window_dots_match_naive_loops(cn: int, h: int, en: int, nwin: int) -> None:
    """Odd and even row counts, window counts below, at and off a multiple of 4."""
    from spikeinit._kernels.window_numba import window_dots

    rng = np.random.default_rng(0)
    src = rng.standard_normal((nwin - 1) * h + en + 3).astype(np.float32)
    wt = rng.standard_normal((cn, en)).astype(np.float32)
    out = np.full(nwin * cn, np.nan, np.float32)
    window_dots(src, wt, h, nwin, out)
    want = np.empty((nwin, cn), np.float64)
    for m in range(nwin):
        for c in range(cn):
            want[m, c] = sum(float(src[m * h + e]) * float(wt[c, e]) for e in range(en))
    np.testing.assert_allclose(out.reshape(nwin, cn), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "in_ch,length,out_ch,kernel,stride,padding",
    [(16, 68, 32, 7, 3, 0), (2, 30, 3, 2, 3, 1), (3, 11, 4, 5, 1, 2), (2, 13, 3, 4, 2, 5)],
)
def test_conv1d_input_matches_torch(in_ch, length, out_ch, kernel, stride, padding) -> None:
    """SHD's second layer, a kernel shorter than the stride (residues without taps),
    stride 1 and a padding wider than the kernel."""
    from spikeinit._kernels.window_numba import conv1d_input as window_conv1d_input

    torch.manual_seed(0)
    w = torch.randn(out_ch, in_ch, kernel)
    lout = (length + 2 * padding - kernel) // stride + 1
    g = torch.randn(6, out_ch, lout)
    got = window_conv1d_input(g.numpy(), w.numpy(), length, stride, padding)
    want = conv1d_input((6, in_ch, length), w, g, stride=stride, padding=padding)
    torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-5, atol=1e-5)
