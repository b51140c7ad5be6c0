"""The persistent JAX compilation cache, on by default.

A rerun of the same command (or a test compiling the same program in another
process) loads its compiled programs from disk instead of compiling them
again. Where the cache lives, in this order:

- `config.compile_cache`: a directory, or 'off'; 'auto' (the default) defers to
- `$DLEXP_COMPILE_CACHE`: a directory, or 'off'; unset means
- `~/.cache/dlexp/jax` (or `$XDG_CACHE_HOME/dlexp/jax`).

Programs are cached whatever their compile time (JAX skips those under a
second by default, which is most of dlexp's). The cache key covers the
program, the compiler options, the jax/jaxlib versions and the device, so a
stale entry is never used. JAX treats the directory as trusted code: do not
point it at a directory others can write.
"""
import os
from typing import Optional

import jax

from dlexp.data.base import cache_dir
from dlexp.errors import ConfigError

ENV = 'DLEXP_COMPILE_CACHE'
OFF = 'off'


def resolve(setting: str) -> Optional[str]:
  """The cache directory for a config value, or None when off."""
  if setting == 'auto':
    setting = os.environ.get(ENV, '') or str(cache_dir('jax'))
  if setting.lower() == OFF:
    return None
  return os.path.abspath(os.path.expanduser(setting))


def validate(setting: str) -> None:
  if not isinstance(setting, str) or not setting:
    raise ConfigError(f"compile_cache={setting!r} not allowed; need 'auto', "
                      "'off' or a directory")
  path = resolve(setting)
  if path is not None and os.path.exists(path) and not os.path.isdir(path):
    raise ConfigError(f'compile_cache={setting!r}: {path} is a file; need a '
                      "directory, 'auto' or 'off'")


def enable(setting: str) -> Optional[str]:
  """Points JAX's persistent cache at the configured directory (or turns it
  off); returns the directory. Idempotent; switching directories inside one
  process resets JAX's cache object, which otherwise binds once."""
  path = resolve(setting)
  if path is None:
    jax.config.update('jax_enable_compilation_cache', False)
    return None
  os.makedirs(path, exist_ok=True)
  current = jax.config.jax_compilation_cache_dir
  jax.config.update('jax_enable_compilation_cache', True)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  if current != path:
    jax.config.update('jax_compilation_cache_dir', path)
    if current is not None:
      # Private module: needed only to rebind the cache to a new directory.
      from jax._src import compilation_cache  # pylint: disable=g-import-not-at-top
      compilation_cache.reset_cache()
  return path
