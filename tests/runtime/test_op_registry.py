"""The op registry: one declaration per op gives the binding, defaults, docs and errors."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from metallic import _core


def test_every_op_documents_every_parameter() -> None:
    for op in _core.op_infos():
        assert op["doc"], op["name"]
        for name, annotation, _default, doc in op["params"]:
            assert annotation, (op["name"], name)
            assert doc, (op["name"], name)


def test_defaults_come_from_the_args_declaration(ctx: mt.Context) -> None:
    (info,) = [op for op in _core.op_infos() if op["name"] == "mps_matmul"]
    assert info["params"][2][1:3] == ("bool", "False")
    assert info["params"][4][1:3] == ("float", "1.0")
    a = ctx.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = ctx.tensor(np.ones((3, 2), np.float32))
    expected = a.numpy() @ b.numpy()
    np.testing.assert_allclose(mt.ops.mps_matmul(a, b).numpy(), expected)
    np.testing.assert_allclose(mt.ops.mps_matmul(a, b, alpha=2).numpy(), 2 * expected)
    np.testing.assert_allclose(mt.ops.mps_matmul(a, b, False, False).numpy(), expected)


def test_binding_errors_name_the_op_and_argument(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones((2, 2), np.float32))
    with pytest.raises(mt.ArgumentError, match=r"mps_matmul\(\) takes 5 arguments but 6"):
        mt.ops.mps_matmul(a, a, False, False, 1.0, 2)
    with pytest.raises(mt.ArgumentError, match="got multiple values for 'b'"):
        mt.ops.mps_matmul(a, a, b=a)
    with pytest.raises(mt.ArgumentError, match="argument 'transpose_a' must be bool, got int"):
        mt.ops.mps_matmul(a, a, transpose_a=1)
    with pytest.raises(mt.ArgumentError, match="argument 'alpha' must be float, got str"):
        mt.ops.mps_matmul(a, a, alpha="2")
    with pytest.raises(mt.ArgumentError, match="unexpected argument 'beta'"):
        mt.ops.mps_matmul(a, a, beta=1.0)
    # numpy scalars are numbers
    mt.ops.mps_matmul(a, a, alpha=np.float32(2), transpose_a=np.bool_(True)).numpy()


def test_context_call_takes_a_handle_or_a_name(ctx: mt.Context) -> None:
    a = ctx.tensor(np.full(3, 2, np.float32))
    np.testing.assert_array_equal(ctx.call(mt.ops.ElemwiseMulOp, a, a).numpy(), [4, 4, 4])
    np.testing.assert_array_equal(ctx.call(mt.ops.mul, a, b=a).numpy(), [4, 4, 4])
    np.testing.assert_array_equal(ctx.call("ElemwiseAddOp", a, a).numpy(), [4, 4, 4])
    with pytest.raises(mt.ArgumentError, match="Context.call takes an op"):
        ctx.call(42, a, a)
    with pytest.raises(mt.ArgumentError, match="no op named 'nope'"):
        ctx.call("nope", a)


def test_backend_override_of_an_unknown_op_is_an_error(ctx: mt.Context) -> None:
    with pytest.raises(mt.ArgumentError, match="no op 'no_such_op' has backends"):
        ctx.set_backend("no_such_op", "x")
    assert ctx.backend("no_such_op") == "auto"
    assert isinstance(mt.backends(ctx), dict)
