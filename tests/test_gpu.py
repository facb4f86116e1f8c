"""GPU runs agree with CPU runs (runs only where torch sees a CUDA device)."""
import numpy as np
import pytest
import torch

from grokrepro.engine import Data, DeepLinear, resolve_device, train
from grokrepro.metastable.data import DataSpec, generate

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")


def test_auto_device_resolves_to_what_is_there():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            resolve_device("cuda")


@cuda
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_cuda_matches_cpu(dtype, tol):
    arrays = generate(DataSpec((0.9, 0.8), 2, 2, 512, 256, seed=0))
    model = DeepLinear((2, 10, 10, 2))
    seeds = np.arange(16) + 42
    out = {}
    for dev in ("cpu", "cuda"):
        data = Data.from_numpy(arrays, dev, dtype)
        params = model.init(seeds, 10 ** -0.5, dev, dtype)
        out[dev] = train(model, params, data, 0.08, np.linspace(0, 0.4, 16), 64, seeds, max_epochs=20).params
    for a, b in zip(out["cpu"], out["cuda"]):
        torch.testing.assert_close(b.cpu(), a, rtol=tol, atol=tol)
