"""One invocation of an experiment: where it writes and how it runs.

Built once: by dlexp.cli from the command line, or by a script's `run()`
from its arguments when called from Python. The library reads these fields
and never the command line, so a notebook, a test or another script runs an
experiment exactly as its flags would.
"""
import dataclasses
import time
from typing import Dict, Tuple

from dlexp.errors import ConfigError

SIZES = ('smoke', 'default', 'full')


@dataclasses.dataclass
class Session:
  """workdir: where the runs, findings records and plots go.
  script: the experiment's name (records are named after it).
  size: 'smoke' (seconds, a plumbing check, never evidence), 'default' (the
    CPU size) or 'full' (GPU/TPU).
  rerun_failed: retrain members whose status is failed (done ones are always
    reused).
  shard: (i, n): run the i-th of n contiguous blocks of the members.
  plot: draw every learning curve, at any size.
  summary: print each distinct model's summary (layers, shapes, params).
  command: the line that reproduces this invocation (in the findings).
  question: the experiment's question (its docstring's first line).
  given: config paths the user set explicitly -> how ('--config.epochs=3',
    '--epochs=3'): an axis or a part may not overwrite them silently.
  """
  workdir: str
  script: str = 'script'
  size: str = 'default'
  rerun_failed: bool = False
  shard: Tuple[int, int] = (0, 1)
  plot: bool = False
  summary: bool = False
  command: str = ''
  question: str = ''
  given: Dict[str, str] = dataclasses.field(default_factory=dict)
  start: float = dataclasses.field(default_factory=time.time)

  def __post_init__(self):
    if self.size not in SIZES:
      raise ConfigError(f'size={self.size!r} not allowed; allowed: '
                        f'{", ".join(SIZES)}')
    if not isinstance(self.workdir, str) or not self.workdir:
      raise ConfigError(f'workdir={self.workdir!r} must be a directory path')
    i, n = self.shard
    if not 0 <= i < n:
      raise ConfigError(f'shard={self.shard!r} must be (i, n) with '
                        '0 <= i < n')
