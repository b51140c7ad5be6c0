"""User-facing errors: one line, no traceback, non-zero exit (see dlexp.cli)."""


class DlexpError(Exception):
  """An error caused by the user's input (flags, config, data, workdir)."""


class ConfigError(DlexpError):
  """A config value or key is not allowed."""


class DataError(DlexpError):
  """A dataset could not be found, read or validated."""
