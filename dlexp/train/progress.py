"""Progress lines a run prints: the dataset, each group's plan, compile time,
one line per epoch with an ETA, failures."""
import sys
from typing import Callable, Optional

import numpy as np


def nanmean(values) -> float:
  finite = [v for v in values if np.isfinite(v)]
  return float(np.mean(finite)) if finite else float('nan')


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
         f'{nanmean(train_losses):.4f}  {metric} {nanmean(values):.4f}'
         f'  {throughput:,.0f} ex/s  {seconds:.1f}s  ETA {eta:.0f}s')

  def group(self, label: str, members: int, mode: str, chunks: int,
            driver: str, steps: int, batch: int,
            resumed: Optional[int]) -> None:
    self(f'[{label}] {members} member(s), {mode} ({chunks} chunk(s), epoch '
         f'driver {driver}), {steps} steps/epoch of {batch}'
         + (f'; resuming after epoch {resumed}' if resumed else ''))
