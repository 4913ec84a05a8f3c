"""Event I/O: the streaming, validating reader and the atomic writer."""

from .batch import EventBatch
from .configuration import read_configuration, write_configuration
from .errors import EventFormatError, EventFormatWarning
from .reader import SourceSummary, expand_sources, open_event_file, read_events, summarize_source
from .root import RootMapping
from .writer import EventWriter, event_table, hit_list, write_events

__all__ = ["EventBatch", "EventFormatError", "EventFormatWarning", "EventWriter", "RootMapping", "SourceSummary",
           "event_table", "expand_sources", "hit_list", "open_event_file", "read_configuration", "read_events",
           "summarize_source", "write_configuration", "write_events"]
