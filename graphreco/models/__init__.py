"""Message-passing networks on torch-scatter, small enough for thousands of events/s on a CPU."""

from .message_passing import EdgeBlock, GraphEncoder, edge_pointer, event_pool

__all__ = ["EdgeBlock", "GraphEncoder", "edge_pointer", "event_pool"]
