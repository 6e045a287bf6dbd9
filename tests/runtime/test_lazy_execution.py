"""Lazy execution: ops encode into the active command buffer; host reads and writes wait only
as far as the tensor needs."""

from __future__ import annotations

import threading

import metallic as mt
import numpy as np
import pytest


def test_ops_are_encoded_not_run(device: str) -> None:
    ctx = mt.Context(device=device, dispatches_per_command_buffer=1000)
    a = ctx.tensor(np.ones(1000, np.float32))
    seq = ctx.active_sequence
    b = mt.ops.add(a, a)
    assert ctx.completed_sequence < seq  # nothing committed yet
    np.testing.assert_array_equal(b.numpy(), np.full(1000, 2, np.float32))
    assert ctx.completed_sequence >= seq


def test_read_after_write_chain(device: str) -> None:
    ctx = mt.Context(device=device, dispatches_per_command_buffer=1000)
    x = np.linspace(-1, 1, 513, dtype=np.float32)
    t = ctx.tensor(x)
    one = ctx.tensor(np.ones(513, np.float32))
    seq = ctx.active_sequence
    with ctx.profile() as p:
        for _ in range(100):
            t = mt.ops.add(t, one)
        assert ctx.completed_sequence < seq
        np.testing.assert_allclose(t.numpy(), x + 100, rtol=1e-6)
        assert ctx.completed_sequence == seq
    # The 100 dispatches went to the device in a single command buffer.
    assert [r.command_buffer for r in p.records] == [seq] * 100


def test_auto_commit_splits_long_chains(device: str) -> None:
    ctx = mt.Context(device=device, dispatches_per_command_buffer=8)
    t = ctx.tensor(np.zeros(64, np.float32))
    one = ctx.tensor(np.ones(64, np.float32))
    seq = ctx.active_sequence
    for _ in range(20):
        t = mt.ops.add(t, one)
    np.testing.assert_array_equal(t.numpy(), np.full(64, 20, np.float32))
    assert ctx.completed_sequence - seq == 2  # 8 + 8 committed automatically, 4 on the read


def test_host_write_waits_for_pending_readers(device: str) -> None:
    ctx = mt.Context(device=device, dispatches_per_command_buffer=1000)
    x = np.arange(300, dtype=np.float32)
    t = ctx.tensor(x)
    doubled = mt.ops.add(t, t)  # pending: reads t
    t.copy_from(np.zeros(300, np.float32))  # must wait for the pending read first
    np.testing.assert_array_equal(doubled.numpy(), x * 2)
    np.testing.assert_array_equal(t.numpy(), np.zeros(300, np.float32))


def test_reading_one_tensor_leaves_later_work_pending(device: str) -> None:
    ctx = mt.Context(device=device, dispatches_per_command_buffer=1000)
    a = ctx.tensor(np.ones(10, np.float32))
    first = mt.ops.add(a, a)
    ctx.commit()  # first's command buffer goes to the device
    first_seq = ctx.active_sequence - 1
    later = mt.ops.mul(a, a)  # encoded into the next one, not committed
    later_seq = ctx.active_sequence
    np.testing.assert_array_equal(first.numpy(), np.full(10, 2, np.float32))
    assert ctx.completed_sequence == first_seq  # waited for first's command buffer only
    assert ctx.active_sequence == later_seq  # the later work is still pending, uncommitted
    np.testing.assert_array_equal(later.numpy(), np.ones(10, np.float32))
    assert ctx.completed_sequence == later_seq


def test_pool_reuses_buffers(device: str) -> None:
    ctx = mt.Context(device=device)
    a = ctx.tensor(np.ones(4096, np.float32))
    before = ctx.pool_stats()
    for _ in range(1000):
        mt.ops.add(a, a)
    ctx.synchronize()
    after = ctx.pool_stats()
    # Each result is released right away, so its buffer serves the next call.
    assert after["allocations"] - before["allocations"] <= 2
    assert after["reuses"] - before["reuses"] >= 998
    assert after["bytes_allocated"] - before["bytes_allocated"] <= 2 * 4096 * 4


def test_pooled_buffer_reuse_waits_for_its_previous_user(device: str) -> None:
    ctx = mt.Context(device=device, dispatches_per_command_buffer=1000)
    a = ctx.tensor(np.full(2048, 3, np.float32))
    b = mt.ops.mul(a, a)
    expected = np.full(2048, 9, np.float32)
    del a  # its buffer returns to the pool while the mul is still pending
    c = ctx.tensor(np.zeros(2048, np.float32))  # may get that buffer: must wait before writing
    np.testing.assert_array_equal(b.numpy(), expected)
    np.testing.assert_array_equal(c.numpy(), np.zeros(2048, np.float32))


def test_numpy_view_is_zero_copy_and_read_only(ctx: mt.Context) -> None:
    t = ctx.tensor(np.arange(6, dtype=np.float32))
    view = t.numpy()
    assert not view.flags.writeable
    assert np.shares_memory(view, t.numpy())
    copy = t.numpy(copy=True)
    assert copy.flags.writeable and not np.shares_memory(copy, view)
    np.testing.assert_array_equal(np.asarray(t), np.arange(6))


def test_profile_labels_carry_scopes(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones(8, np.float32))
    with ctx.profile() as p:
        with ctx.scope("layer0"):
            mt.ops.add(a, a)
            with ctx.scope("attn"):
                mt.ops.mul(a, a)
        mt.ops.sub(a, a)
    assert [(r.scope, r.label) for r in p.records] == [
        ("layer0", "elemwise_add"),
        ("layer0/attn", "elemwise_mul"),
        ("", "elemwise_sub"),
    ]


def test_commit_by_bytes(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLIC_COMMIT_MB", "1")
    ctx = mt.Context(device=device, dispatches_per_command_buffer=1000)
    a = ctx.tensor(np.ones(1 << 17, np.float32))  # 512 KiB: one add binds 1.5 MiB
    seq = ctx.active_sequence
    mt.ops.add(a, a)
    assert ctx.active_sequence == seq + 1  # committed without being read


def test_threads_sharing_a_context(device: str) -> None:
    ctx = mt.Context(device=device, dispatches_per_command_buffer=4)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            x = np.full(5000, seed, np.float32)
            t = ctx.tensor(x)
            for _ in range(50):
                t = mt.ops.add(t, ctx.tensor(np.ones(5000, np.float32)))
                ctx.synchronize()  # waits without the GIL: the other thread encodes meanwhile
            np.testing.assert_array_equal(t.numpy(), x + 50)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors


def test_pool_keeps_a_bounded_amount_free(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLIC_POOL_MB", "1")
    ctx = mt.Context(device=device)
    small = ctx.zeros(1024)  # 4 KiB: cached when released
    big = ctx.zeros(1 << 19)  # 2 MiB: more than the pool keeps free, so it is freed
    before = ctx.pool_stats()["bytes_allocated"]
    del small, big
    stats = ctx.pool_stats()
    assert stats["bytes_free"] == 4096
    assert stats["bytes_allocated"] == before - (2 << 20)
