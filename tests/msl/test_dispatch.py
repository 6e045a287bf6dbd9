"""Builtin attributes (uint/ushort and 2/3-vectors), 1D/2D/3D grids, dispatchThreads (partial edge
threadgroups) and dispatchThreadgroups."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

#define REC 32
kernel void ids3(device uint* out [[buffer(0)]],
                 uint3 gpos [[thread_position_in_grid]],
                 uint3 lpos [[thread_position_in_threadgroup]],
                 uint3 tgpos [[threadgroup_position_in_grid]],
                 uint3 grid [[threads_per_grid]],
                 uint3 tgsize [[threads_per_threadgroup]],
                 uint3 groups [[threadgroups_per_grid]],
                 uint3 dtg [[dispatch_threads_per_threadgroup]],
                 uint lindex [[thread_index_in_threadgroup]],
                 uint lane [[thread_index_in_simdgroup]],
                 uint sg [[simdgroup_index_in_threadgroup]],
                 uint sgs [[simdgroups_per_threadgroup]],
                 uint width [[threads_per_simdgroup]],
                 uint qlane [[thread_index_in_quadgroup]],
                 uint qg [[quadgroup_index_in_threadgroup]],
                 uint qgs [[quadgroups_per_threadgroup]],
                 uint exec [[thread_execution_width]]) {
  uint linear = (gpos.z * grid.y + gpos.y) * grid.x + gpos.x;
  device uint* r = out + linear * REC;
  r[0] = gpos.x; r[1] = gpos.y; r[2] = gpos.z;
  r[3] = lpos.x; r[4] = lpos.y; r[5] = lpos.z;
  r[6] = tgpos.x; r[7] = tgpos.y; r[8] = tgpos.z;
  r[9] = grid.x; r[10] = grid.y; r[11] = grid.z;
  r[12] = tgsize.x; r[13] = tgsize.y; r[14] = tgsize.z;
  r[15] = groups.x; r[16] = groups.y; r[17] = groups.z;
  r[18] = dtg.x; r[19] = dtg.y; r[20] = dtg.z;
  r[21] = lindex; r[22] = lane; r[23] = sg; r[24] = sgs; r[25] = width;
  r[26] = qlane; r[27] = qg; r[28] = qgs; r[29] = exec;
  r[30] = 0xC0FFEE;
}

// ushort / ushort2 / uint2 spellings of the same attributes.
kernel void ids2_short(device uint* out [[buffer(0)]],
                       ushort2 gpos [[thread_position_in_grid]],
                       ushort2 lpos [[thread_position_in_threadgroup]],
                       uint2 tgpos [[threadgroup_position_in_grid]],
                       ushort2 grid [[threads_per_grid]],
                       ushort lindex [[thread_index_in_threadgroup]],
                       ushort lane [[thread_index_in_simdgroup]],
                       ushort sg [[simdgroup_index_in_threadgroup]]) {
  uint linear = uint(gpos.y) * grid.x + gpos.x;
  device uint* r = out + linear * 8;
  r[0] = gpos.x; r[1] = gpos.y; r[2] = lpos.x; r[3] = lpos.y;
  r[4] = tgpos.x; r[5] = tgpos.y; r[6] = lindex; r[7] = uint(lane) + 100u * sg;
}

// A scalar builtin on a 2-D grid is the x component.
kernel void ids_scalar(device uint* out [[buffer(0)]], uint x [[thread_position_in_grid]],
                       uint2 g [[thread_position_in_grid]], uint2 n [[threads_per_grid]]) {
  out[g.y * n.x + g.x] = x;
}
"""


@pytest.fixture(scope="module")
def lib(msl):
    return msl.library(SOURCE, name="dispatch")


def _expected(grid, tg, uniform):
    """Per-thread builtin values, indexed [z, y, x, field]."""
    tg = list(tg) + [1] * (3 - len(tg))
    if uniform:
        groups = [int(g) for g in (list(grid) + [1] * (3 - len(grid)))]
        total = [g * t for g, t in zip(groups, tg, strict=True)]
    else:
        total = [int(g) for g in (list(grid) + [1] * (3 - len(grid)))]
        groups = [(n + t - 1) // t for n, t in zip(total, tg, strict=True)]
    rec = np.zeros((total[2], total[1], total[0], 32), np.uint32)
    for z, y, x in itertools.product(range(total[2]), range(total[1]), range(total[0])):
        pos = (x, y, z)
        gp = [p // t for p, t in zip(pos, tg, strict=True)]
        lp = [p % t for p, t in zip(pos, tg, strict=True)]
        size = [min(t, n - g * t) for t, n, g in zip(tg, total, gp, strict=True)]
        lindex = (lp[2] * size[1] + lp[1]) * size[0] + lp[0]
        n = size[0] * size[1] * size[2]
        r = rec[z, y, x]
        r[0:3], r[3:6], r[6:9] = pos, lp, gp
        r[9:12], r[12:15], r[15:18], r[18:21] = total, size, groups, tg
        r[21], r[22], r[23], r[24], r[25] = lindex, lindex % 32, lindex // 32, (n + 31) // 32, 32
        r[26], r[27], r[28], r[29], r[30] = lindex % 4, lindex // 4, (n + 3) // 4, 32, 0xC0FFEE
    return rec


CASES = [
    ((37,), (16,), "threads"),
    ((64,), (64,), "threads"),
    ((3,), (8,), "threadgroups"),
    ((10, 7), (4, 3), "threads"),
    ((2, 3), (8, 4), "threadgroups"),
    ((5, 3, 3), (2, 2, 2), "threads"),
    ((2, 2, 2), (3, 2, 2), "threadgroups"),
    ((40, 3), (33, 1), "threads"),
]


@pytest.mark.parametrize("grid,tg,mode", CASES, ids=[f"{g}-{t}-{m}" for g, t, m in CASES])
def test_builtins(msl, lib, grid, tg, mode):
    expect = _expected(grid, tg, mode == "threadgroups")
    out = np.zeros(expect.size, np.uint32)
    (out,) = msl.run(lib, "ids3", out, grid=grid, threadgroup=tg, dispatch=mode)
    out = out.reshape(expect.shape)
    names = "gpos lpos tgpos grid tgsize groups dtg".split()
    for k, name in enumerate(names):
        np.testing.assert_array_equal(
            out[..., 3 * k : 3 * k + 3], expect[..., 3 * k : 3 * k + 3], name
        )
    np.testing.assert_array_equal(out[..., 21:31], expect[..., 21:31])


def test_ushort_builtins(msl, lib):
    grid, tg = (13, 6), (8, 4)
    expect = _expected(grid, tg, False)[0]
    (out,) = msl.run(lib, "ids2_short", np.zeros(13 * 6 * 8, np.uint32), grid=grid, threadgroup=tg)
    out = out.reshape(6, 13, 8)
    np.testing.assert_array_equal(out[..., 0:2], expect[..., 0:2])
    np.testing.assert_array_equal(out[..., 2:4], expect[..., 3:5])
    np.testing.assert_array_equal(out[..., 4:6], expect[..., 6:8])
    np.testing.assert_array_equal(out[..., 6], expect[..., 21])
    np.testing.assert_array_equal(out[..., 7], expect[..., 22] + 100 * expect[..., 23])


def test_scalar_builtin_on_2d_grid(msl, lib):
    (out,) = msl.run(lib, "ids_scalar", np.zeros(5 * 3, np.uint32), grid=(5, 3), threadgroup=(2, 2))
    np.testing.assert_array_equal(out.reshape(3, 5), np.tile(np.arange(5), (3, 1)))
