"""The logged-metrics contract other tools read. One directory per trial and
seed holding:

- config.json: the full resolved config (plus the trial's overrides and seed),
- metrics.jsonl: one JSON object per line, one line per epoch at least,
- status.json: running / done / diverged / failed, final metrics, wall time,
  git commit, library versions and devices,
- layers.json: the model's layers in the order they are called (first =
  nearest the input), since metrics rows cannot keep that order (see
  write_layers),
- TensorBoard event files (tensorboardX, no TensorFlow needed).

JSON files are written atomically (temporary file, then rename); metrics lines
are flushed as written.
"""
import fcntl
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence

import jax

from dlexp.errors import DlexpError

STATUSES = ('running', 'done', 'diverged', 'failed', 'interrupted')
LAYERS_FILE = 'layers.json'
_warned: set = set()


def jsonable(value: Any) -> Any:
  """Numpy/jax scalars to Python; non-finite floats to strings JSON can hold."""
  if hasattr(value, 'tolist'):
    value = value.tolist()
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)  # 'nan', 'inf': json.loads would choke on bare NaN
  if isinstance(value, dict):
    return {str(k): jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [jsonable(v) for v in value]
  return value


def write_json(path: str, obj: Any) -> None:
  """Atomic: a crash leaves the old file or the new one, never half of one."""
  directory = os.path.dirname(path) or '.'
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-', suffix='.json')
  try:
    with os.fdopen(fd, 'w') as f:
      json.dump(jsonable(obj), f, indent=2, sort_keys=True)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def read_json(path: str) -> Optional[Dict[str, Any]]:
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def read_metrics(path: str) -> List[Dict[str, Any]]:
  """All complete lines of a metrics.jsonl (a torn last line is ignored)."""
  rows = []
  try:
    with open(path) as f:
      for line in f:
        try:
          rows.append(json.loads(line))
        except ValueError:
          break
  except OSError:
    pass
  return rows


def repair_metrics(path: str, keep_epochs: int) -> None:
  """Keeps the first `keep_epochs` complete epoch lines, drops the rest (a torn
  line or epochs logged after the checkpoint being resumed)."""
  rows = [r for r in read_metrics(path) if r.get('epoch', 0) <= keep_epochs]
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.tmp-')
  with os.fdopen(fd, 'w') as f:
    for row in rows:
      f.write(json.dumps(row) + '\n')
  os.replace(tmp, path)


def write_layers(directory: str, names: Sequence[str]) -> None:
  """Writes the model's layer paths in call order (models.layer_order) into
  `directory`/layers.json, for readers that need the network order."""
  write_json(os.path.join(directory, LAYERS_FILE), {'layers': list(names)})


def read_layers(directory: str) -> Optional[List[str]]:
  """The layer order written by write_layers, or None if there is none."""
  obj = read_json(os.path.join(directory, LAYERS_FILE))
  layers = (obj or {}).get('layers')
  return list(layers) if isinstance(layers, list) else None


def warn_once(key: str, message: str) -> None:
  """One line on stderr, the first time `key` is seen in this process."""
  if key not in _warned:
    _warned.add(key)
    print(f'warning: {message}', file=sys.stderr)


def _summary_writer_class():
  """tensorboardX.SummaryWriter, imported without torch.

  tensorboardX imports torch whenever it is installed (the benchmarks'
  extra), only to name torch tensors in type hints; dlexp logs Python
  floats. That import cost 1.4-1.7 s of every process that writes a run
  (2-core machine). torch stays importable afterwards: the block is lifted
  once tensorboardX is loaded, and a process that imported torch already
  keeps it.
  """
  block = 'torch' not in sys.modules
  if block:
    sys.modules['torch'] = None  # `import torch` raises ImportError
  try:
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top; behind the torch block above
  finally:
    if block and sys.modules.get('torch', 0) is None:
      del sys.modules['torch']
  return SummaryWriter


def _tensorboard_writer(logdir: str):
  """A tensorboardX SummaryWriter, or None (with a one-time warning) when
  tensorboardX cannot be imported."""
  try:
    writer_class = _summary_writer_class()
  except ImportError as e:
    warn_once('tensorboardX', f'tensorboardX could not be imported ({e}); '
              'TensorBoard event files will not be written')
    return None
  return writer_class(logdir=logdir)


def git_commit() -> str:
  try:
    here = os.path.dirname(os.path.abspath(__file__))
    return subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=here,
                          capture_output=True, text=True, timeout=5,
                          check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return 'unknown'


def environment() -> Dict[str, Any]:
  """Written once per run into status.json: enough to reproduce it."""
  versions = {}
  # Read from the installed metadata: importing tensorflow_datasets only for
  # its version cost every run 0.2 s.
  for name, dist in (('jax', 'jax'), ('jaxlib', 'jaxlib'), ('flax', 'flax'),
                     ('optax', 'optax'),
                     ('orbax.checkpoint', 'orbax-checkpoint'),
                     ('numpy', 'numpy'), ('ml_collections', 'ml-collections'),
                     ('tensorflow_datasets', 'tensorflow-datasets')):
    try:
      versions[name] = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = 'missing'
  return {
      'git_commit': git_commit(),
      'python': platform.python_version(),
      'host': platform.node(),
      'versions': versions,
      'devices': [str(d) for d in jax.devices()],
      'backend': jax.default_backend(),
  }


class RunWriter:
  """Writes one member's (trial x seed) directory."""

  def __init__(self, directory: str, config: Dict[str, Any],
               env: Dict[str, Any], resume_epoch: int = 0,
               tensorboard: bool = True):
    self.dir = directory
    os.makedirs(directory, exist_ok=True)
    self.status_path = os.path.join(directory, 'status.json')
    self.metrics_path = os.path.join(directory, 'metrics.jsonl')
    write_json(os.path.join(directory, 'config.json'), config)
    if resume_epoch and os.path.exists(self.metrics_path):
      repair_metrics(self.metrics_path, resume_epoch)
    elif os.path.exists(self.metrics_path):
      os.unlink(self.metrics_path)
    self._metrics = open(self.metrics_path, 'a')
    self.env = env
    self.start = time.time()
    self._tb = None
    if tensorboard:
      self._tb = _tensorboard_writer(os.path.join(directory, 'tb'))
    self.set_status('running')

  def log(self, row: Dict[str, Any]) -> None:
    row = jsonable(row)
    # Insertion order kept: diagnostics keys follow the model's layer order.
    self._metrics.write(json.dumps(row) + '\n')
    self._metrics.flush()
    if self._tb is not None:
      self._log_tensorboard(row)

  def _log_tensorboard(self, row: Dict[str, Any]) -> None:
    """The row's scalars as one event (one Summary with a value per tag),
    which TensorBoard reads as add_scalar's one event per tag: a row holds
    ~150 diagnostics, and add_scalar per tag took 22 ms per row, this 2."""
    # pylint: disable=g-import-not-at-top (loaded with the writer already)
    from tensorboardX import summary
    from tensorboardX.proto.summary_pb2 import Summary
    values = [summary.scalar(key, value).value[0]
              for key, value in row.items()
              if key not in ('step', 'epoch')
              and isinstance(value, (int, float))]
    if values:
      self._tb.file_writer.add_summary(
          Summary(value=values), row.get('step', row.get('epoch', 0)))
    self._tb.flush()

  def set_status(self, status: str, **fields) -> None:
    assert status in STATUSES, status
    write_json(self.status_path, dict(
        status=status, wall_time=time.time() - self.start,
        updated=time.strftime('%Y-%m-%dT%H:%M:%S'), **self.env, **fields))

  def close(self) -> None:
    self._metrics.close()
    if self._tb is not None:
      self._tb.close()


class NullWriter:
  """A RunWriter that writes nothing: what every process but process 0 of a
  multi-process run uses (process 0 writes the files)."""

  def __init__(self, *args, **kwargs):
    del args, kwargs

  def log(self, row: Dict[str, Any]) -> None:
    del row

  def set_status(self, status: str, **fields) -> None:
    del status, fields

  def close(self) -> None:
    pass


def find_runs(workdir: str) -> Iterable[str]:
  """Directories under `workdir` holding a status.json, sorted."""
  for root, _, files in sorted(os.walk(workdir)):
    if 'status.json' in files and 'config.json' in files:
      yield root


class TrialLock:
  """An exclusive lock on a run directory, held while a process trains it.

  fcntl locks die with their process (even on SIGKILL), so a crashed run never
  leaves a stale lock behind; the file only names the last holder.
  """

  def __init__(self, directory: str):
    self.path = os.path.join(directory, '.lock')
    self._fd = None

  def acquire(self) -> None:
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      holder = os.read(fd, 200).decode(errors='replace').strip() or 'unknown'
      os.close(fd)
      raise DlexpError(f'{os.path.dirname(self.path)} is being trained by '
                       f'another process ({holder}); wait for it or use '
                       'another --workdir') from None
    os.ftruncate(fd, 0)
    os.write(fd, f'pid {os.getpid()} on {platform.node()} since '
                 f'{time.strftime("%Y-%m-%dT%H:%M:%S")}'.encode())
    self._fd = fd

  def release(self) -> None:
    if self._fd is not None:
      os.close(self._fd)  # closing the descriptor releases the flock
      self._fd = None
