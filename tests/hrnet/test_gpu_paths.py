"""The GPU paths' logic, checked on the CPU: the device resolver (torchrun included, with a faked
CUDA), chunk padding to fixed sizes, the out-of-memory retry with an injected error, scoped cuDNN
flags, fp16 weight casting and the device probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrnet import Predictor
from hrnet.errors import ConfigError
from hrnet.predictor import padded_batch_size
from hrnet.utils import device as devmod
from hrnet.utils.device import (
    available_devices,
    cudnn_scope,
    device_label,
    is_out_of_memory,
    release_memory,
    resolve_device,
)

EXPERIMENT = "synthetic/hrnet_w16_128x96"


class _Props:
    def __init__(self, name: str) -> None:
        self.name = name
        self.total_memory = 80 * 10**9


@pytest.fixture
def two_gpus(monkeypatch):
    """Pretend this machine has two CUDA GPUs (only the probing functions are faked)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: _Props(f"Fake GPU {i}"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: f"Fake GPU {i}")
    monkeypatch.setattr(devmod, "mps_available", lambda: False)


# -- device resolver ------------------------------------------------------------------------------
def test_resolver_is_one_function():
    import hrnet.distributed
    import hrnet.predictor

    assert hrnet.distributed.resolve_device is resolve_device
    assert hrnet.predictor.resolve_device is resolve_device


def test_resolve_single_process(two_gpus):
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device(" CUDA:1 ") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="only 2 CUDA"):
        resolve_device("cuda:2")
    with pytest.raises(ConfigError, match="Unknown device"):
        resolve_device("gpu0")
    with pytest.raises(ConfigError, match="not available"):
        resolve_device("mps")


@pytest.mark.parametrize("local_rank", [0, 1])
def test_torchrun_uses_local_rank(two_gpus, local_rank):
    for spec in ("auto", "cuda", None):
        assert resolve_device(spec, local_rank, distributed=True) == torch.device("cuda", local_rank)


def test_torchrun_refuses_an_explicit_gpu(two_gpus):
    # every rank would open cuda:0 -> NCCL "Duplicate GPU detected"; refuse it with a way out
    with pytest.raises(ConfigError, match="CUDA_VISIBLE_DEVICES"):
        resolve_device("cuda:0", 1, distributed=True)
    with pytest.raises(ConfigError, match="LOCAL_RANK 2 has no GPU"):
        resolve_device("cuda", 2, distributed=True)
    assert resolve_device("cpu", 1, distributed=True) == torch.device("cpu")


def test_init_distributed_device_choice(two_gpus, monkeypatch):
    """init_distributed resolves from torchrun's environment (the process group itself is not
    started here: set_device and init_process_group are recorded instead)."""
    import hrnet.distributed as hd

    calls = {}
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.setdefault("set_device", d))
    monkeypatch.setattr(hd.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(hd.dist, "init_process_group", lambda **kw: calls.setdefault("init", kw))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info, device = hd.init_distributed("auto")
    assert device == torch.device("cuda", 1) and calls["set_device"] == device
    assert calls["init"]["backend"] == "nccl" and calls["init"]["device_id"] == device
    with pytest.raises(ConfigError, match="torchrun"):
        hd.init_distributed("cuda:0")


def test_resolve_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devmod, "mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("auto", 3, distributed=True) == torch.device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda:0")


def test_device_probe(two_gpus):
    devices = available_devices()
    assert [d.spec for d in devices] == ["cpu", "cuda:0", "cuda:1"]
    assert devices[2].name == "Fake GPU 1" and "80 GB" in devices[2].label
    assert device_label(torch.device("cuda", 1)) == "cuda:1 (Fake GPU 1)"
    assert device_label("cpu") == "cpu"


def test_device_probe_on_this_machine():
    devices = available_devices()
    assert devices[0].spec == "cpu"
    assert all(resolve_device(d.spec).type in ("cpu", "cuda", "mps") for d in devices)


# -- memory ---------------------------------------------------------------------------------------
def test_out_of_memory_recognised():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert is_out_of_memory(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert not is_out_of_memory(RuntimeError("size mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))
    release_memory("cpu")  # harmless without a GPU
    release_memory()


# -- cuDNN flags ----------------------------------------------------------------------------------
def test_cudnn_scope_restores_the_process_flags():
    cudnn = torch.backends.cudnn
    before = (cudnn.benchmark, cudnn.conv.fp32_precision)
    with cudnn_scope(benchmark=True, ieee_fp32=True):
        assert cudnn.benchmark is True and cudnn.conv.fp32_precision == "ieee"
    assert (cudnn.benchmark, cudnn.conv.fp32_precision) == before
    with pytest.raises(KeyError), cudnn_scope(benchmark=not before[0]):
        raise KeyError("restored on errors too")
    assert cudnn.benchmark == before[0]


def test_predictor_leaves_cudnn_benchmark_alone():
    torch.backends.cudnn.benchmark = False
    Predictor(EXPERIMENT, device="cpu", optimize=False)
    assert torch.backends.cudnn.benchmark is False  # the detector must not be autotuned per image size


# -- padding --------------------------------------------------------------------------------------
def test_padded_batch_size():
    assert [padded_batch_size(n, 32) for n in (1, 2, 3, 5, 16, 17, 31, 32, 40)] == [1, 2, 4, 8, 16, 32, 32, 32, 40]
    # a batch size that is no power of two is a size of its own
    assert [padded_batch_size(n, 24) for n in (9, 16, 17, 23, 24)] == [16, 16, 24, 24, 24]
    assert len({padded_batch_size(n, 256) for n in range(1, 257)}) == 9
    # torch.compile: at most four sizes
    assert sorted({padded_batch_size(n, 256, max_sizes=4) for n in range(1, 257)}) == [32, 64, 128, 256]
    assert padded_batch_size(0, 32) == 0


@pytest.fixture(scope="module")
def predictors():
    torch.manual_seed(0)
    plain = Predictor(EXPERIMENT, device="cpu", batch_size=8, flip_test=True)
    padded = Predictor(EXPERIMENT, device="cpu", batch_size=8, flip_test=True)
    padded.model.load_state_dict(plain.model.state_dict())
    padded.pad_batches = True  # as on CUDA
    return plain, padded


def _boxes(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    xy = rng.uniform(0, 150, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(30, 90, (n, 2))], axis=1)


def test_padding_runs_fixed_shapes_and_gives_the_same_keypoints(predictors):
    plain, padded = predictors
    image = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    shapes = []
    handle = padded.model.register_forward_pre_hook(lambda m, args: shapes.append(args[0].shape[0]))
    try:
        for n in (1, 3, 5, 11):
            a = plain.predict(image, _boxes(n))
            b = padded.predict(image, _boxes(n))
            assert len(b) == n
            np.testing.assert_allclose(np.stack([r.keypoints for r in a]), np.stack([r.keypoints for r in b]),
                                       atol=1e-4)
    finally:
        handle.remove()
    # flip doubles the chunk: sizes are powers of two up to 2 x batch size; 11 = 8 + 3 -> 16 + 8
    assert shapes == [2, 8, 16, 16, 8]
    hm = padded.forward(padded.preprocess([image], [_boxes(3)])[0])
    assert hm.shape[0] == 3 and hm.dtype == torch.float32


# -- out-of-memory retry --------------------------------------------------------------------------
def test_out_of_memory_halves_the_batch_and_retries(caplog):
    torch.manual_seed(0)
    predictor = Predictor(EXPERIMENT, device="cpu", batch_size=8)
    image = np.random.default_rng(2).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    boxes = _boxes(13)
    expected = predictor.predict(image, boxes)
    real = predictor._forward_chunk
    sizes = []

    def tight_memory(x):  # "the GPU" holds at most 3 crops at once
        sizes.append(x.shape[0])
        if x.shape[0] > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB (injected)")
        return real(x)

    predictor._forward_chunk = tight_memory
    with caplog.at_level("WARNING"):
        got = predictor.predict(image, boxes)
    assert predictor.batch_size == 2 and "Out of memory" in caplog.text
    assert sizes[:3] == [8, 4, 2] and sum(s for s in sizes if s <= 3) == 13
    np.testing.assert_allclose(np.stack([r.keypoints for r in got]), np.stack([r.keypoints for r in expected]),
                               atol=1e-4)

    def no_memory(x):
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    predictor._forward_chunk = no_memory
    with pytest.raises(torch.OutOfMemoryError):
        predictor.predict(image, boxes)
    assert predictor.batch_size == 1

    def other_error(x):
        raise RuntimeError("shape mismatch")

    predictor.batch_size = 8
    predictor._forward_chunk = other_error
    with pytest.raises(RuntimeError, match="shape mismatch"):
        predictor.predict(image, boxes)
    assert predictor.batch_size == 8  # only memory errors shrink the batch


# -- fp16 weights ---------------------------------------------------------------------------------
def test_to_half_casts_once_and_refuses_overflow():
    from hrnet.models.optimize import to_half

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    assert to_half(net) and net[0].weight.dtype == torch.float16
    big = torch.nn.Conv2d(3, 4, 3)
    with torch.no_grad():
        big.weight[0, 0, 0, 0] = 1e5
    assert not to_half(big) and big.weight.dtype == torch.float32


def test_half_weights_path_gives_fp32_heatmaps():
    """The CUDA fp16 path (weights cast once, fp16 crops in, float32 heatmaps out), run on the CPU."""
    from hrnet.models.optimize import to_half

    torch.manual_seed(0)
    ref = Predictor(EXPERIMENT, device="cpu", optimize=False, batch_size=4)
    half = Predictor(EXPERIMENT, device="cpu", optimize=False, batch_size=4)
    half.model.load_state_dict(ref.model.state_dict())
    assert to_half(half.model)
    half._half_weights = True
    half.pad_batches = True
    image = np.random.default_rng(3).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    crops = half.preprocess([image], [_boxes(3)])[0]
    try:
        hm = half.forward(crops)
    except RuntimeError as e:  # pragma: no cover - a CPU build without fp16 convolutions
        pytest.skip(f"no fp16 convolutions on this CPU build: {e}")
    assert hm.dtype == torch.float32 and hm.shape[0] == 3
    expected = ref.forward(ref.preprocess([image], [_boxes(3)])[0])
    assert float((hm - expected).abs().max()) <= 2e-2 * float(expected.abs().max())
