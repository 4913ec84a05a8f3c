"""Event I/O: the streaming, validating reader and the atomic writer."""

from .batch import EventBatch
from .errors import EventFormatError
from .reader import expand_sources, open_event_file, read_events
from .writer import EventWriter, event_table, hit_list, write_events

__all__ = ["EventBatch", "EventFormatError", "EventWriter", "event_table", "expand_sources",
           "hit_list", "open_event_file", "read_events", "write_events"]
