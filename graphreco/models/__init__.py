"""Message-passing networks on torch-scatter, small enough for thousands of events/s on a CPU."""

from .aggregation import (
                          CsrEvents,
                          EdgeAggregation,
                          EventReduction,
                          FusedKernel,
                          RowScatter,
                          ScatterEvents,
                          SegmentCsr,
                          default_aggregation,
                          edge_pointer,
                          event_pool,
)
from .message_passing import EdgeBlock, GraphEncoder

__all__ = ["CsrEvents", "EdgeAggregation", "EdgeBlock", "EventReduction", "FusedKernel", "GraphEncoder",
           "RowScatter", "ScatterEvents", "SegmentCsr", "default_aggregation", "edge_pointer", "event_pool"]
