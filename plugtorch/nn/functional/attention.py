"""scaled_dot_product_attention and the multi-head attention forward used by MultiheadAttention.

>>> import plugtorch as pt
>>> q = k = v = pt.ones(1, 2, 4)
>>> pt.nn.functional.scaled_dot_product_attention(q, k, v).shape
plugtorch.Size([1, 2, 4])
"""
from __future__ import annotations

import math

import plugtorch as pt
from plugtorch.nn.functional._utils import check_tensors
from plugtorch.nn.functional.regularization import dropout
from plugtorch.nn.attention import _check_math_enabled


def _as_additive_mask(mask, dtype, keep_value_true):
    """A float mask to add to the scores; bool masks become 0 / -inf."""
    if mask is None:
        return mask
    if mask.dtype.is_floating_point:
        if mask.dtype != dtype:    # (adding it would promote the scores, then fail in a matmul)
            raise RuntimeError(f"attention mask of dtype {mask.dtype} does not match the query's dtype {dtype}; "
                               f"pass a bool mask or a float one of the query's dtype")
        return mask
    if mask.dtype is not pt.bool:
        raise RuntimeError(f"attention mask must be bool or floating point, got {mask.dtype}")
    allowed = mask if keep_value_true else ~mask
    return pt.where(allowed, 0.0, -math.inf).to(dtype)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(Q K^T * scale + mask) V over the last two dims.

    A bool ``attn_mask`` marks the positions that may be attended (True = keep), a float one is
    added to the scores; ``is_causal`` keeps only j <= i.
    """
    check_tensors("scaled_dot_product_attention", query=query, key=key, value=value)
    _check_math_enabled()
    if is_causal.__class__ is not bool:
        raise TypeError(f"scaled_dot_product_attention(): argument 'is_causal' must be bool, not "
                        f"{type(is_causal).__name__}")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must be at least 2-D")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same embedding size, "
                           f"got {query.shape[-1]} and {key.shape[-1]}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:   # (F.dropout's own check is a ValueError; PyTorch's SDPA raises RuntimeError)
        raise RuntimeError(f"scaled_dot_product_attention: dropout probability has to be between 0 and 1, but got "
                           f"{dropout_p}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = _repeat_heads(key, query.shape[-3]), _repeat_heads(value, query.shape[-3])
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)
    if is_causal:
        keep = pt.ones((L, S), dtype=pt.bool, device=query.device).tril()
        scores = scores + _as_additive_mask(keep, scores.dtype, True)
    elif attn_mask is not None:
        shape = tuple(scores.shape)
        if pt.broadcast_shapes(tuple(attn_mask.shape), shape) != shape:
            raise RuntimeError(f"scaled_dot_product_attention: attn_mask of shape {list(attn_mask.shape)} does not "
                               f"broadcast to the attention weights' shape {list(shape)} (..., L, S)")
        scores = scores + _as_additive_mask(attn_mask, scores.dtype, True)
    attn = pt.softmax(scores, -1) if attn_mask is None else _safe_softmax(scores)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn @ value


def _safe_softmax(scores):
    """softmax over the last dim, with 0 (not 0/0 = nan) in the rows masked entirely to -inf, as
    PyTorch's attention (its _safe_softmax); those rows get a zero gradient too."""
    dead = (scores == -math.inf).all(-1, keepdim=True)
    return pt.where(dead, 0.0, pt.softmax(pt.where(dead, 0.0, scores), -1))


def _repeat_heads(x, heads):
    """(..., Hk, S, E) -> (..., heads, S, E), each key/value head shared by heads // Hk query heads."""
    hk = x.shape[-3]
    if heads % hk:
        raise RuntimeError(f"scaled_dot_product_attention: number of query heads ({heads}) must be a multiple "
                           f"of the number of key/value heads ({hk})")
    lead = tuple(x.shape[:-3])
    return x.unsqueeze(-3).expand(*lead, hk, heads // hk, *x.shape[-2:]).reshape(*lead, heads, *x.shape[-2:])


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """Inputs are sequence-first: (L, N, E) or unbatched (L, E). Returns (output, weights or None).

    Masks follow MultiheadAttention: a bool ``attn_mask`` / ``key_padding_mask`` marks positions
    that may NOT be attended (True = masked); float masks are added to the scores.
    """
    from plugtorch.nn.functional import linear   # the dispatching op, so profilers see it
    if not need_weights:       # PyTorch runs scaled_dot_product_attention then: sdpa_kernel applies
        _check_math_enabled()
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k / static_v are not supported")
    if key.shape[:2] != value.shape[:2] or key.shape[1] != N:
        raise AssertionError(f"key and value must have the same sequence length and batch size as each other and "
                             f"query's batch size; got query {list(query.shape)}, key {list(key.shape)}, value "
                             f"{list(value.shape)}")
    if E % num_heads:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (N, key.shape[0]):
        raise AssertionError(f"multi_head_attention_forward: expecting key_padding_mask shape of "
                             f"{(N, key.shape[0])} (batch, source length), but got {tuple(key_padding_mask.shape)}")
    if attn_mask is not None:
        want = {2: (L, key.shape[0]), 3: (N * num_heads, L, key.shape[0])}.get(attn_mask.ndim)
        if want is None:
            raise RuntimeError(f"multi_head_attention_forward: attn_mask's dimension {attn_mask.ndim} is not "
                               f"supported; pass a 2-D (L, S) or 3-D (N * num_heads, L, S) mask")
        if tuple(attn_mask.shape) != want:
            raise RuntimeError(f"multi_head_attention_forward: the shape of the {attn_mask.ndim}D attn_mask is "
                               f"{tuple(attn_mask.shape)}, but should be {want}")
    hd = E // num_heads
    if not use_separate_proj_weight:
        wq, wk, wv = in_proj_weight.chunk(3)
    else:
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    bq, bk, bv = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)
    q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    if bias_k is not None:
        k = pt.cat([k, bias_k.expand(1, N, E)], 0)
        v = pt.cat([v, bias_v.expand(1, N, E)], 0)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    if add_zero_attn:
        k = pt.cat([k, pt.zeros((1, N, E), dtype=k.dtype, device=k.device)], 0)
        v = pt.cat([v, pt.zeros((1, N, E), dtype=v.dtype, device=v.device)], 0)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    S = k.shape[0]
    # (L, N, E) -> (N, heads, L, hd)
    q = q.reshape(L, N, num_heads, hd).permute(1, 2, 0, 3)
    k = k.reshape(S, N, num_heads, hd).permute(1, 2, 0, 3)
    v = v.reshape(S, N, num_heads, hd).permute(1, 2, 0, 3)
    scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)              # (N, H, L, S)
    if is_causal and attn_mask is None:
        attn_mask = ~pt.ones((L, S), dtype=pt.bool, device=query.device).tril()
    if attn_mask is not None:
        m = _as_additive_mask(attn_mask, scores.dtype, False)
        if m.ndim == 3:
            m = m.reshape(N, num_heads, L, S)
        scores = scores + m
    if key_padding_mask is not None:
        scores = scores + _as_additive_mask(key_padding_mask, scores.dtype, False).reshape(N, 1, 1, S)
    # PyTorch runs scaled_dot_product_attention when no weights are asked for (fully masked rows
    # give 0) and a plain softmax when they are (those rows give nan)
    masked = attn_mask is not None or key_padding_mask is not None
    attn = _safe_softmax(scores) if masked and not need_weights else pt.softmax(scores, -1)
    if dropout_p > 0.0 and training:
        attn_d = dropout(attn, dropout_p, training=True)
    else:
        attn_d = attn
    out = (attn_d @ v).permute(2, 0, 1, 3).reshape(L, N, E)
    out = linear(out, out_proj_weight, out_proj_bias)
    weights = None
    if need_weights:
        weights = attn_d.mean(1) if average_attn_weights else attn_d   # after dropout, as PyTorch returns them
        if not batched:
            weights = weights.squeeze(0)
    if not batched:
        out = out.squeeze(1)
    return out, weights


def _pad_last(mask):
    if mask is None:
        return None
    zero = pt.zeros(tuple(mask.shape[:-1]) + (1,), dtype=mask.dtype, device=mask.device)
    return pt.cat([mask, zero], -1)
