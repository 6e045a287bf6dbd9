"""DLPack: Tensor.__dlpack__ / __dlpack_device__ export zero-copy (np.from_dlpack, torch.from_dlpack
see the tensor's memory), mt.from_dlpack imports a copy."""

from __future__ import annotations

import ctypes

import metallic as mt
import numpy as np
import pytest

DTYPES = [np.float32, np.float16, np.int32, np.uint32, np.int8, np.uint8, np.int64]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_sees_the_tensors_memory(ctx: mt.Context, dtype: type[np.generic]) -> None:
    x = (np.arange(3 * 5) % 11).astype(dtype).reshape(3, 5)
    t = ctx.tensor(x)
    assert t.__dlpack_device__() == (1, 0)  # kDLCPU: both devices' buffers are host memory
    y = np.from_dlpack(t)
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, x)
    assert np.shares_memory(y, t.numpy())  # zero-copy


def test_views_export_their_strides(ctx: mt.Context) -> None:
    x = np.arange(4 * 6, dtype=np.float32).reshape(4, 6)
    t = ctx.tensor(x)
    for view, expected in [
        (t[:, ::2], x[:, ::2]),
        (t[::-1], x[::-1]),
        (t.T, x.T),
        (t[1, 2], x[1, 2]),
    ]:
        y = np.from_dlpack(view)
        np.testing.assert_array_equal(y, expected)
        assert y.strides == expected.strides
    empty = np.from_dlpack(ctx.zeros((0, 3)))
    assert empty.shape == (0, 3)


def test_export_waits_for_pending_work(ctx: mt.Context) -> None:
    a = ctx.tensor(np.full(1000, 2, np.float32))
    b = mt.ops.mul(a, a)  # pending
    np.testing.assert_array_equal(np.from_dlpack(b), np.full(1000, 4, np.float32))


def test_copy_and_capsule_protocol(ctx: mt.Context) -> None:
    x = np.arange(6, dtype=np.float32)
    t = ctx.tensor(x)
    copied = np.from_dlpack(t, copy=True)
    assert not np.shares_memory(copied, t.numpy())
    np.testing.assert_array_equal(copied, x)
    legacy = t.__dlpack__()
    versioned = t.__dlpack__(max_version=(1, 0))
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    assert name(legacy) == b"dltensor" and name(versioned) == b"dltensor_versioned"
    # An unused capsule frees its reference when dropped; a used one is renamed by the consumer.
    np.testing.assert_array_equal(mt.from_dlpack(versioned, ctx=ctx).numpy(), x)
    assert name(versioned) == b"used_dltensor_versioned"
    del legacy
    with pytest.raises(BufferError, match="stream=None"):
        t.__dlpack__(stream=1)
    with pytest.raises(BufferError, match="CPU device"):
        t.__dlpack__(dl_device=(2, 0))
    assert np.from_dlpack(t, device="cpu").shape == (6,)


def test_the_tensor_outlives_its_exports(device: str) -> None:
    ctx = mt.Context(device=device)
    y = np.from_dlpack(ctx.tensor(np.arange(4, dtype=np.float32)))
    del ctx
    np.testing.assert_array_equal(y, np.arange(4))


def test_from_dlpack_copies_into_a_new_tensor(ctx: mt.Context) -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for source in (x, x[:, ::-1], x.transpose(2, 0, 1), x[..., 1]):
        t = mt.from_dlpack(source, ctx=ctx)
        assert t.context is ctx and t.is_contiguous()
        np.testing.assert_array_equal(t.numpy(), source)
        assert not np.shares_memory(t.numpy(), x)
    assert mt.from_dlpack(np.array([True, False]), ctx=ctx).dtype == "u8"
    assert mt.from_dlpack(np.asarray(np.float16(1.5)), ctx=ctx).item() == 1.5  # 0-d
    same = ctx.tensor(x)
    assert mt.from_dlpack(same, ctx=ctx) is same
    other = mt.from_dlpack(same, ctx=mt.Context(device="host"))
    np.testing.assert_array_equal(other.numpy(), x)
    bf16 = ctx.tensor(np.array([1.5, -2.0], np.float32), dtype="bf16")
    assert mt.from_dlpack(bf16, ctx=mt.Context(device="host")).dtype == "bf16"
    assert mt.from_dlpack(x).context is mt.default_context()


def test_from_dlpack_rejects_what_it_cannot_hold(ctx: mt.Context) -> None:
    with pytest.raises(mt.DTypeError, match="no metallic equivalent"):
        mt.from_dlpack(np.zeros(3, np.complex64), ctx=ctx)
    with pytest.raises(mt.DTypeError, match="no metallic equivalent"):
        mt.from_dlpack(np.zeros(3, np.float64), ctx=ctx)  # ctx.tensor narrows; DLPack is exact
    with pytest.raises(mt.ArgumentError, match="__dlpack__"):
        mt.from_dlpack([1, 2, 3], ctx=ctx)


def test_torch_shares_the_memory(ctx: mt.Context) -> None:
    torch = pytest.importorskip("torch")
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = ctx.tensor(x)
    pt = torch.from_dlpack(t)
    assert pt.device.type == "cpu" and tuple(pt.shape) == (3, 4)
    np.testing.assert_array_equal(pt.numpy(), x)
    assert pt.data_ptr() == np.from_dlpack(t).ctypes.data
    bf = torch.from_dlpack(ctx.tensor(x, dtype="bf16"))
    assert bf.dtype == torch.bfloat16
    np.testing.assert_array_equal(bf.float().numpy(), x)
    back = mt.from_dlpack(torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)[:, ::2], ctx=ctx)
    assert back.dtype == "bf16" and back.numpy().tolist() == [[0.0, 2.0], [3.0, 5.0]]
