"""Row reductions by an index vector (``index`` (n,) -> segment of each row) in plain
tensor ops that export to ONNX: one ``ScatterND`` over whole rows with a max or add
reduction (hence opset 18). torch exports ``scatter_reduce`` as ``ScatterElements``, which
onnxruntime runs element by element (ten times slower than ScatterND) inside rank-0
``If`` branches; ``_ScatterRows`` gives the exporter the ScatterND instead.
"""

from __future__ import annotations

import torch


def _scatter_rows_torch(out: torch.Tensor, index: torch.Tensor, src: torch.Tensor, reduce: str) -> torch.Tensor:
    rows = index if src.dim() == 1 else index[:, None].expand_as(src)
    return out.scatter_reduce(0, rows, src, reduce, include_self=True)


class _ScatterRows(torch.autograd.Function):
    """Rows of ``src`` reduced into the rows ``index`` of ``out`` (``reduce`` "amax" or
    "sum", ``out`` included); exported as one ScatterND over whole rows."""

    @staticmethod
    def forward(ctx, out: torch.Tensor, index: torch.Tensor, src: torch.Tensor, reduce: str) -> torch.Tensor:
        return _scatter_rows_torch(out, index, src, reduce)

    @staticmethod
    def symbolic(g, out, index, src, reduce: str):
        axes = g.op("Constant", value_t=torch.tensor([1], dtype=torch.int64))
        return g.op("ScatterND", out, g.op("Unsqueeze", index, axes), src,
                    reduction_s={"amax": "max", "sum": "add"}[reduce])


def scatter_rows(out: torch.Tensor, index: torch.Tensor, src: torch.Tensor, reduce: str) -> torch.Tensor:
    """``out`` with the rows of ``src`` reduced into its rows ``index`` (``reduce`` "amax"
    or "sum"); a ScatterND in an ONNX export.

    Shapes: ``out`` (S, C) or (S,), ``index`` (n,), ``src`` (n, C) or (n,) -> like ``out``.
    """
    if torch.onnx.is_in_onnx_export():
        return _ScatterRows.apply(out, index, src, reduce)
    return _scatter_rows_torch(out, index, src, reduce)


def segment_count(index: torch.Tensor, n_segments: torch.Tensor | int, dtype: torch.dtype) -> torch.Tensor:
    """Rows per segment, (n_segments,) of ``dtype``. Traced, ``n_segments`` may be a 0-dim
    tensor: the count stays dynamic."""
    return scatter_rows(torch.zeros(n_segments, dtype=dtype), index, torch.ones_like(index, dtype=dtype), "sum")


def segment_sum(values: torch.Tensor, index: torch.Tensor, n_segments: torch.Tensor | int) -> torch.Tensor:
    """Sum of the rows of ``values`` (n, C) per segment, (n_segments, C); 0 for an empty one."""
    return scatter_rows(torch.zeros(n_segments, values.shape[1], dtype=values.dtype), index, values, "sum")


def segment_max_mean(values: torch.Tensor, index: torch.Tensor, n_segments: torch.Tensor | int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Max and mean of the rows of ``values`` (n, C) per segment, each (n_segments, C),
    both 0 for an empty segment (as ``torch_scatter.segment_csr`` gives)."""
    counts = segment_count(index, n_segments, values.dtype)
    top = scatter_rows(torch.full((n_segments, values.shape[1]), float("-inf"), dtype=values.dtype),
                       index, values, "amax")
    total = segment_sum(values, index, n_segments)
    return (torch.where(counts[:, None] > 0, top, torch.zeros_like(top)),
            total / counts.clamp_min(1.0)[:, None])
