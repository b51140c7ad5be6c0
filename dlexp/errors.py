"""User-facing errors: one line, no traceback, non-zero exit (see dlexp.cli)."""


class DlexpError(Exception):
  """An error caused by the user's input (flags, config, data, workdir)."""


class ConfigError(DlexpError):
  """A config value or key is not allowed."""


class DataError(DlexpError):
  """A dataset could not be found, read or validated."""


class RunFailed(DlexpError):
  """The run finished but something in it failed (a member's training, a
  claim's rule): what it could write is written; exit status 1."""
  exit_code = 1
