"""Causal self-attention over a KV cache (prefill and decode, grouped-query heads), as decoders
such as Qwen2 and Llama use it."""

from __future__ import annotations

from metallic import ops
from metallic._core import Context, Tensor
from metallic.nn.layers import Linear
from metallic.nn.rope import RoPE


class KVCache:
    """One layer's keys and values, preallocated [1, kv_heads, max_context, head_dim], and how
    many positions [0, length) hold a sequence's tokens."""

    def __init__(
        self, ctx: Context, kv_heads: int, head_dim: int, max_context: int, dtype: str = "f32"
    ) -> None:
        shape = (1, kv_heads, max_context, head_dim)
        self.keys = ctx.zeros(shape, dtype)
        self.values = ctx.zeros(shape, dtype)
        self.max_context = max_context
        self.length = 0

    def write(self, k: Tensor, v: Tensor, start: int) -> tuple[Tensor, Tensor]:
        """Stores k and v [1, kv_heads, n, head_dim] at positions start..; returns the filled
        prefix [0, start + n) of keys and values as strided views. Positions after start are
        forgotten, so start may rewind to re-run a sequence from there."""
        n = int(k.shape[2])
        if not 0 <= start <= self.length:
            raise ValueError(
                f"KVCache.write(start={start}): the cache holds {self.length} positions; start "
                f"must be in 0..{self.length}"
            )
        if start + n > self.max_context:
            raise ValueError(
                f"KVCache.write: {start + n} positions exceed the cache's max_context of "
                f"{self.max_context} (allocate a longer cache or shorten the sequence)"
            )
        keys = ops.kv_cache_write(self.keys, k, start)
        values = ops.kv_cache_write(self.values, v, start)
        self.length = start + n
        return keys, values


class Attention:
    """softmax(q kᵀ / sqrt(head_dim)) v with causal masking, for x [n, heads * head_dim] at
    positions start..start + n: q/k/v projections (biases optional, Qwen2 has them), RoPE on q
    and k, k and v appended to `cache`, query head h reading KV head h // (heads / kv_heads),
    then the output projection. The cache makes decoding one token at a time equal to running
    the whole sequence at once."""

    def __init__(
        self,
        q: Linear,
        k: Linear,
        v: Linear,
        o: Linear,
        heads: int,
        kv_heads: int,
        head_dim: int,
        rope: RoPE,
        cache: KVCache,
    ) -> None:
        if heads % kv_heads != 0:
            raise ValueError(
                f"Attention: heads ({heads}) must be a multiple of kv_heads ({kv_heads})"
            )
        for name, proj, want in (
            ("q", q, heads * head_dim),
            ("k", k, kv_heads * head_dim),
            ("v", v, kv_heads * head_dim),
        ):
            if proj.out_features != want:
                raise ValueError(
                    f"Attention: the {name} projection gives {proj.out_features} features, "
                    f"{want} expected ({name} heads x head_dim {head_dim})"
                )
        cache_shape = tuple(int(s) for s in cache.keys.shape)
        if cache_shape[1] != kv_heads or cache_shape[3] != head_dim:
            raise ValueError(
                f"Attention: the cache is {list(cache_shape)}; kv_heads {kv_heads} and "
                f"head_dim {head_dim} need [1, {kv_heads}, max_context, {head_dim}]"
            )
        self.q, self.k, self.v, self.o = q, k, v, o
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.rope = rope
        self.cache = cache

    def _heads(self, x: Tensor, heads: int, start: int, rope: bool) -> Tensor:
        """[n, heads * head_dim] -> [1, heads, n, head_dim] (a view), rotated for positions
        start.."""
        x = x.reshape(1, int(x.shape[0]), heads, self.head_dim)
        if rope:
            x = self.rope(x, offset=start)
        return x.transpose(0, 2, 1, 3)

    def __call__(self, x: Tensor, start: int) -> Tensor:
        """The attention output [n, o.out_features] of x [n, hidden] at positions start.."""
        if x.ndim != 2:
            raise ValueError(
                f"Attention: x is {list(x.shape)}; it takes one sequence [n, hidden] "
                "(reshape a [1, n, hidden] batch to [n, hidden])"
            )
        n = int(x.shape[0])
        q = self._heads(self.q(x), self.heads, start, rope=True)
        # Attention reads q, and kv_cache_write reads keys and values, as strided views.
        k = self._heads(self.k(x), self.kv_heads, start, rope=True)
        v = self._heads(self.v(x), self.kv_heads, start, rope=False)
        keys, values = self.cache.write(k, v, start)
        attn = ops.scaled_dot_product_attention(q, keys, values, causal=True)
        attn = attn.transpose(0, 2, 1, 3).contiguous().reshape(n, self.heads * self.head_dim)
        return self.o(attn)
