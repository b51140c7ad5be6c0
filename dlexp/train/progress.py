"""Progress lines a run prints: the dataset, each group's plan, compile time,
one line per epoch with an ETA, failures."""
import sys
from typing import Callable, Optional

import numpy as np


def spread(values, fmt: str = '.4f') -> str:
  """The members' values as one value, or their range (min-max): members
  of a group may train with different settings, whose mean would describe
  none of them. Non-finite values are counted apart."""
  finite = [float(v) for v in np.ravel(values) if np.isfinite(v)]
  bad = np.size(values) - len(finite)
  if not finite:
    return 'nan'
  lo, hi = min(finite), max(finite)
  text = (f'{lo:{fmt}}' if f'{lo:{fmt}}' == f'{hi:{fmt}}'
          else f'{lo:{fmt}}-{hi:{fmt}}')
  return text + (f' ({bad} not finite)' if bad else '')


class Printer:
  """Prints progress lines (or nothing, when quiet); `write`, when given,
  receives each line instead (e.g. list.append)."""

  def __init__(self, stream=None, quiet: bool = False,
               write: Optional[Callable[[str], None]] = None):
    self.stream = stream or sys.stdout
    self.quiet = quiet
    self.write = write

  def __call__(self, msg: str = '') -> None:
    if self.quiet:
      return
    if self.write is not None:
      self.write(msg)
    else:
      print(msg, file=self.stream, flush=True)

  def epoch(self, label: str, epoch: int, epochs: int, train_losses,
            metric: str, values, throughput: float, seconds: float,
            eta: float) -> None:
    self(f'[{label}] epoch {epoch}/{epochs}  train_loss '
         f'{spread(train_losses)}  {metric} {spread(values)}'
         f'  {throughput:,.0f} ex/s  {seconds:.1f}s  ETA {eta:.0f}s')

  def group(self, label: str, members: int, mode: str, chunks: int,
            driver: str, steps: int, batch: int,
            resumed: Optional[int]) -> None:
    self(f'[{label}] {members} member(s), {mode} ({chunks} chunk(s), epoch '
         f'driver {driver}), {steps} steps/epoch of {batch}'
         + (f'; resuming after epoch {resumed}' if resumed else ''))
