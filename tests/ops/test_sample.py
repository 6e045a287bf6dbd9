"""sample (metal/sample): greedy argmax, top-k/top-p sets, the draw's distribution and its
determinism, against numpy references (incl. a numpy Philox4x32-10 for the exact draw)."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from _refs import philox4x32_10

QWEN_VOCAB = 151936


def philox_uniform(row: int, step: int, seed: int) -> float:
    """The kernel's uniform number in [0, 1): Philox4x32-10, key seed, counter (row, step)."""
    word = philox4x32_10(np.array([[row, step & 0xFFFFFFFF, step >> 32, 0]]), seed)[0, 0]
    return float(int(word) >> 8) / 2**24


def kept_probabilities(
    logits: np.ndarray, temperature: float, top_k: int, top_p: float
) -> np.ndarray:
    """Hugging Face's temperature -> top-k -> top-p, as probabilities over the vocabulary."""
    x = logits.astype(np.float64) / temperature
    if 0 < top_k < x.size:
        x = np.where(x < np.sort(x)[-top_k], -np.inf, x)
    p = np.exp(x - x.max())
    p /= p.sum()
    if top_p < 1:
        order = np.argsort(-p, kind="stable")
        mass_before = np.cumsum(p[order]) - p[order]
        drop = order[mass_before >= top_p]
        p[drop] = 0
        p /= p.sum()
    return p


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 255), (2, 257), (2, 3, 1000), (1, QWEN_VOCAB)])
def test_greedy_is_argmax(ctx: mt.Context, dtype: type, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out = mt.ops.sample(ctx.tensor(x), temperature=0.0)
    assert out.dtype == "i32" and out.shape == shape[:-1]
    np.testing.assert_array_equal(out.numpy(), x.argmax(axis=-1))


def test_greedy_ties_pick_the_first_and_top_k_1_is_greedy(ctx: mt.Context) -> None:
    x = np.zeros((2, 600), np.float32)
    x[0, [17, 300, 599]] = 5.0
    x[1, 599] = 1.0
    out = mt.ops.sample(ctx.tensor(x), temperature=0.0).numpy()
    np.testing.assert_array_equal(out, [17, 599])
    np.testing.assert_array_equal(mt.ops.sample(ctx.tensor(x), top_k=1, seed=4).numpy(), out)


def test_bf16(ctx: mt.Context) -> None:
    x = np.array([[0.5, 3.0, -1.0, 2.0]], np.float32)
    assert mt.ops.sample(ctx.tensor(x, dtype="bf16"), temperature=0).numpy()[0] == 1


@pytest.mark.parametrize(
    ("top_k", "top_p", "allowed"),
    [(2, 1.0, {0, 1}), (0, 0.6, {0, 1}), (0, 0.4, {0}), (3, 0.95, {0, 1, 2}), (2, 0.99, {0, 1})],
)
def test_sets_are_respected(ctx: mt.Context, top_k: int, top_p: float, allowed: set[int]) -> None:
    # Probabilities 0.5, 0.25, 0.15, 0.1 on tokens 0..3, in a vocabulary of 40 (-inf elsewhere).
    row = np.full(40, -np.inf, np.float32)
    row[[0, 1, 2, 3]] = np.log([0.5, 0.25, 0.15, 0.1])
    rows = np.tile(row, (200, 1))  # rows draw different numbers (the counter's first word)
    tokens = mt.ops.sample(ctx.tensor(rows), top_k=top_k, top_p=top_p, seed=11).numpy()
    assert set(tokens.tolist()) == allowed


def test_sets_in_a_qwen_sized_vocabulary(ctx: mt.Context) -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, QWEN_VOCAB)) * 3).astype(np.float32)
    top50 = np.argsort(-x, axis=-1)[:, :50]
    for seed in range(3):
        tokens = mt.ops.sample(ctx.tensor(x), 0.7, top_k=50, top_p=0.9, seed=seed).numpy()
        for r in range(2):
            p = kept_probabilities(x[r], 0.7, 50, 0.9)
            assert tokens[r] in top50[r] and p[tokens[r]] > 0


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"), [(1.0, 0, 1.0), (0.5, 0, 1.0), (2.0, 4, 1.0), (1.0, 0, 0.7)]
)
def test_distribution(ctx: mt.Context, temperature: float, top_k: int, top_p: float) -> None:
    logits = np.array([1.0, 0.2, -0.5, 2.0, 0.0, -3.0], np.float32)
    n = 4000
    tokens = mt.ops.sample(ctx.tensor(np.tile(logits, (n, 1))), temperature, top_k, top_p).numpy()
    freq = np.bincount(tokens, minlength=logits.size) / n
    p = kept_probabilities(logits, temperature, top_k, top_p)
    # 5 standard deviations of a binomial frequency; a token outside the set has frequency 0.
    np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / n) + 1e-9)
    # Different seeds also give the distribution (seed is the generator's key).
    by_seed = [
        mt.ops.sample(ctx.tensor(logits), temperature, top_k, top_p, seed=s) for s in range(300)
    ]
    freq = np.bincount([int(t.numpy()) for t in by_seed], minlength=logits.size) / 300
    np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / 300) + 1e-9)


def test_draw_matches_the_reference_generator(ctx: mt.Context) -> None:
    """The token is the inverse CDF, in index order, of the Philox number: checkable anywhere."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 40)).astype(np.float32)
    seed, step = 2**40 + 5, 2**33 + 7
    tokens = mt.ops.sample(ctx.tensor(x), 0.8, top_k=10, top_p=0.9, seed=seed, step=step).numpy()
    for r in range(64):
        cdf = np.cumsum(kept_probabilities(x[r], 0.8, 10, 0.9))
        u = philox_uniform(r, step, seed)
        expected = int(np.searchsorted(cdf, u, side="right"))
        if np.min(np.abs(cdf - u)) > 1e-5:  # not on a boundary, where rounding may decide
            assert tokens[r] == expected, r


def test_deterministic(ctx: mt.Context) -> None:
    x = np.random.default_rng(3).standard_normal((4, 5000)).astype(np.float16)
    t = ctx.tensor(x)
    first = mt.ops.sample(t, 1.0, 0, 1.0, seed=7, step=3).numpy()
    np.testing.assert_array_equal(mt.ops.sample(t, 1.0, 0, 1.0, seed=7, step=3).numpy(), first)
    draws = {tuple(mt.ops.sample(t, 1.0, seed=7, step=s).numpy()) for s in range(5)}
    assert len(draws) > 1  # the step changes the draw


def test_empty_rows(ctx: mt.Context) -> None:
    out = mt.ops.sample(ctx.tensor(np.zeros((0, 8), np.float32)))
    assert out.shape == (0,) and out.dtype == "i32"


class TestBadInput:
    def test_arguments(self, ctx: mt.Context) -> None:
        x = ctx.tensor(np.zeros((2, 8), np.float32))
        with pytest.raises(mt.ArgumentError, match="temperature must be finite and >= 0"):
            mt.ops.sample(x, temperature=-1.0)
        with pytest.raises(mt.ArgumentError, match="temperature"):
            mt.ops.sample(x, temperature=float("nan"))
        with pytest.raises(mt.ArgumentError, match="top_k must be >= 0"):
            mt.ops.sample(x, top_k=-2)
        with pytest.raises(mt.ArgumentError, match=r"top_p must be in \(0, 1\]"):
            mt.ops.sample(x, top_p=0.0)
        with pytest.raises(mt.ArgumentError, match=r"top_p must be in \(0, 1\]"):
            mt.ops.sample(x, top_p=1.5)
        with pytest.raises(mt.ArgumentError, match="seed and step must be >= 0"):
            mt.ops.sample(x, seed=-1)

    def test_tensors(self, ctx: mt.Context) -> None:
        with pytest.raises(mt.DTypeError, match="f32, f16 or bf16"):
            mt.ops.sample(ctx.tensor(np.zeros((2, 8), np.int32)))
        with pytest.raises(mt.ShapeError, match="vocab >= 1"):
            mt.ops.sample(ctx.tensor(np.zeros((2, 0), np.float32)))
        with pytest.raises(mt.ShapeError, match="contiguous"):
            mt.ops.sample(ctx.tensor(np.zeros((8, 2), np.float32)).T)
