"""Error classes raised on bad input.

Every message names the offending file or config key and says how to fix it, so that a
user can act on it without reading a traceback.
"""


class BrainalignError(Exception):
    """Base class of all errors the package raises on purpose."""


class ConfigError(BrainalignError, ValueError):
    """A config value is missing, malformed or inconsistent."""


class DataError(BrainalignError, ValueError):
    """A data file is missing, corrupt or does not match what the config says."""
