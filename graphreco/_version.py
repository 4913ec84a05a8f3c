"""The version of graphreco, in a module of its own so that every module can import it
without importing the package's ``__init__`` (which imports some of them lazily)."""

__version__ = "0.1.0"
