"""Context, tensor creation, views, the registry and device selection."""

from __future__ import annotations

from pathlib import Path

import metallic as mt
import numpy as np
import pytest
from metallic import _core

REPO = Path(__file__).resolve().parents[2]


def test_tensor_round_trip_all_dtypes(ctx: mt.Context) -> None:
    for dtype in [np.float32, np.float16, np.int32, np.uint32, np.int8, np.uint8, np.int64]:
        x = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
        t = ctx.tensor(x)
        assert t.shape == (2, 3, 4)
        assert t.strides == (12, 4, 1)
        np.testing.assert_array_equal(t.numpy(), x)


def test_bfloat16_rounds_to_nearest_even(ctx: mt.Context) -> None:
    x = np.array([1.0, 1.00390625, 1.01171875, -2.5, 3.0e38, np.inf], dtype=np.float32)
    t = ctx.tensor(x, dtype="bf16")
    assert t.dtype == "bf16"
    # 1 + 2^-8 is a tie and rounds to even (1.0); 1 + 3*2^-8 rounds up to 1 + 2^-6.
    np.testing.assert_array_equal(t.numpy()[:4], [1.0, 1.0, 1.015625, -2.5])
    assert np.isinf(t.numpy()[5])


def test_float64_narrows_and_dtype_argument_converts(ctx: mt.Context) -> None:
    assert ctx.tensor(np.ones(3)).dtype == "f32"
    assert ctx.tensor([1, 2, 3], dtype="f16").dtype == "f16"
    assert ctx.tensor(np.ones(3), dtype=np.float16).dtype == "f16"


def test_zeros_empty_and_views(ctx: mt.Context) -> None:
    z = ctx.zeros((3, 4), "f16")
    np.testing.assert_array_equal(z.numpy(), np.zeros((3, 4), np.float16))
    assert ctx.empty(5).shape == (5,)
    t = ctx.tensor(np.arange(12, dtype=np.float32))
    r = t.reshape(3, -1)
    assert r.shape == (3, 4)
    np.testing.assert_array_equal(r[1].numpy(), [4, 5, 6, 7])
    assert r.slice(1, 3).shape == (2, 4)
    assert not r.T.is_contiguous()
    np.testing.assert_array_equal(r.T.numpy(), np.arange(12, dtype=np.float32).reshape(3, 4).T)
    assert "shape=[3, 4]" in repr(r)
    assert ctx.tensor(np.array([2.5], np.float32)).item() == 2.5


def test_bad_tensor_requests(ctx: mt.Context) -> None:
    with pytest.raises(mt.DTypeError, match="no metallic equivalent"):
        ctx.tensor(np.ones(3, np.complex64))
    with pytest.raises(mt.DTypeError, match="unknown dtype"):
        ctx.zeros(3, "f8")
    with pytest.raises(mt.ShapeError, match="negative"):
        ctx.zeros((2, -1))
    with pytest.raises(mt.ShapeError, match="at most 8 dimensions"):
        ctx.zeros((1,) * 9)
    assert ctx.zeros((1,) * 8).ndim == 8
    t = ctx.tensor(np.arange(12, dtype=np.float32))
    with pytest.raises(mt.ShapeError, match="cannot reshape"):
        t.reshape(5, 3)
    with pytest.raises(mt.ShapeError, match="out of range"):
        t.slice(3, 20)
    with pytest.raises(mt.ShapeError, match="one element"):
        t.item()
    with pytest.raises(mt.ShapeError, match="copy_from"):
        t.copy_from(np.ones(5, np.float32))


def test_device_selection() -> None:
    assert "host" in _core.available_devices()
    assert mt.Context(device="host").device == "host"
    with pytest.raises(mt.DeviceError, match="unknown device"):
        mt.Context(device="tpu")
    if "metal" not in _core.available_devices():
        with pytest.raises(mt.DeviceError, match="not available"):
            mt.Context(device="metal")


def test_device_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLIC_DEVICE", "host")
    assert mt.Context().device == "host"
    monkeypatch.setenv("METALLIC_DEVICE", "nonsense")
    with pytest.raises(mt.DeviceError):
        mt.Context()


def test_registry_lists_every_kernel_library() -> None:
    libraries = _core.kernel_libraries()
    families = {p.name for p in (REPO / "metal").iterdir() if p.is_dir() and p.name != "common"}
    assert set(libraries) == families
    assert sorted(libraries["elemwise_add"]) == sorted(
        f"elemwise_add_{form}_{t}"
        for form in ("g", "gs", "sg", "vv")
        for t in ("bf16", "f16", "f32", "i32", "u32")
    )


def test_op_registry_is_exposed() -> None:
    names = {op["name"] for op in _core.op_infos()}
    assert {"add", "sub", "mul", "div"} <= names
    assert mt.ops.add is mt.ops.ElemwiseAddOp
    assert "a + b" in (mt.ops.add.__doc__ or "")


def test_error_hierarchy() -> None:
    assert issubclass(mt.ShapeError, mt.MetallicError) and issubclass(mt.ShapeError, ValueError)
    assert issubclass(mt.DTypeError, mt.MetallicError) and issubclass(mt.DTypeError, TypeError)
    assert issubclass(mt.KernelCompileError, mt.MetallicError)
    assert issubclass(mt.DeviceError, mt.MetallicError)


def test_gpu_capture_needs_metal() -> None:
    ctx = mt.Context(device="host")
    with pytest.raises(mt.DeviceError, match="needs the Metal device"), ctx.capture("x.gputrace"):
        pass
