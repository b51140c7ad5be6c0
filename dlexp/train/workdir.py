"""Where a run's members live, and when a directory may be reused.

A member's directory is `WORKDIR/<trial>/<config id>/seed_<n>`. The config id
is a short hash of every config field that can change a result (all of them
but the seed, the number of seeds, checkpoint cadence, the compilation cache
and model saving; see NOT_RESULTS) plus the script's own options. So a rerun
with other settings trains into new directories and never prints, skips or
resumes the old ones, which stay untouched; a rerun with the same settings
skips finished members, resumes interrupted ones, and with more seeds trains
only the new seeds. `dlexp.report` groups runs by trial and config id.
"""
import hashlib
import json
import os
from typing import Any, Dict, Optional

from dlexp import records
from dlexp.errors import ConfigError, DlexpError

# Fields that cannot change what a member trains or logs: checkpoint cadence,
# where compiled programs are cached, whether the final model is saved, how
# many seeds (each seed has its own directory) and which seed (its directory
# name), and how the processes of a multi-process run find each other.
NOT_RESULTS = ('seed', 'num_seeds', 'checkpoint.every_epochs',
               'checkpoint.keep', 'compile_cache', 'save_model')
NOT_RESULT_SECTIONS = ('distributed.', 'claims.')
ID_LENGTH = 10


def result_fields(flat_config: Dict[str, Any]) -> Dict[str, Any]:
  return {k: v for k, v in flat_config.items() if k not in NOT_RESULTS
          and not k.startswith(NOT_RESULT_SECTIONS)}


def config_id(flat_config: Dict[str, Any],
              script_options: Optional[Dict[str, Any]] = None) -> str:
  """Short hash of the result-changing fields (and script options)."""
  identity = _comparable({'config': result_fields(flat_config),
                          'script': dict(script_options or {})})
  text = json.dumps(identity, sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def _comparable(obj):
  """As config.json stores it (tuples as lists, nan as 'nan')."""
  return json.loads(json.dumps(records.jsonable(obj), default=repr))


def member_dir(workdir: str, trial: str, cid: str, seed: int) -> str:
  return os.path.join(workdir, trial or 'run', cid, f'seed_{seed}')


def check_reusable(directory: str, flat_config: Dict[str, Any],
                   script_options: Optional[Dict[str, Any]]) -> None:
  """A directory that already holds a config must hold this one (the id is a
  hash: a mismatch means a collision or a hand-edited file)."""
  path = os.path.join(directory, 'config.json')
  try:
    with open(path) as f:
      stored = json.load(f)
  except (OSError, ValueError):
    return  # nothing there yet (or torn): nothing to reuse
  old = _comparable(result_fields(stored.get('config', {})))
  new = _comparable(result_fields(flat_config))
  diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
  old_script = _comparable(stored.get('script_options', {}) or {})
  new_script = _comparable(script_options or {})
  if diff or old_script != new_script:
    what = ', '.join(f'{k}: {old.get(k)!r} there, {new.get(k)!r} now'
                     for k in diff[:3]) or 'script options differ'
    raise DlexpError(f'{directory} holds a run with other settings ({what}); '
                     'move it away or use another --workdir')


def check(workdir: str) -> None:
  """The workdir checks that need not create anything."""
  path = os.path.abspath(os.path.expanduser(workdir))
  if os.path.exists(path) and not os.path.isdir(path):
    raise ConfigError(f'workdir {path!r} is a file; pass a directory')
  parent = path
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
    raise ConfigError(f'workdir {path!r} cannot be created: {parent!r} is '
                      'not a writable directory')


def prepare(workdir: str) -> str:
  """Creates the workdir (after every check has passed); its absolute path."""
  workdir = os.path.abspath(os.path.expanduser(workdir))
  check(workdir)
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise ConfigError(f'workdir {workdir!r} cannot be created: '
                      f'{e.strerror}') from None
  if not os.access(workdir, os.W_OK):
    raise ConfigError(f'workdir {workdir!r} is not writable')
  return workdir

