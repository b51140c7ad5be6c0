"""Preemption: the first SIGTERM/SIGINT asks the run to checkpoint and stop at
the end of the current epoch; a second one acts as usual."""
import signal
import threading
from typing import Callable, Optional


class Interrupted(Exception):
  """SIGTERM/SIGINT arrived: the state was checkpointed; relaunch to resume."""

  def __init__(self, signum: int, epoch: int):
    super().__init__(f'interrupted by signal {signum} after epoch {epoch}; '
                     'checkpoint saved, relaunch the same command to resume')
    self.signum = signum


class SignalGuard:
  """Turns the first SIGTERM/SIGINT into a request (`requested` holds the
  signal number); a second one runs the previous handler."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self, say: Callable[[str], None]):
    self.say = say
    self.requested: Optional[int] = None
    self._old = {}

  def _handle(self, signum, frame):
    del frame
    if self.requested is not None:
      signal.signal(signum, self._old.get(signum, signal.SIG_DFL))
      signal.raise_signal(signum)
      return
    self.requested = signum
    self.say(f'signal {signum}: checkpointing at the end of this epoch, then '
             'stopping (send it again to stop now)')

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for s in self.SIGNALS:
        self._old[s] = signal.signal(s, self._handle)
    return self

  def __exit__(self, *exc):
    for s, handler in self._old.items():
      signal.signal(s, handler)
