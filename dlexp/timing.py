"""Timing of compiled work: the one harness analysis and the benchmarks use.

    timings = timing.interleave({'a': run_a, 'b': run_b}, repeats=5,
                                items={'a': 6400, 'b': 6400})
    timings['a'].rate(), timings['a'].best_rate(), timings['a'].cpu_rate()

Each callable is warmed up first (compilation, caches, allocator), then the
timed calls are interleaved (a, b, a, b, ...), so a burst of load from other
processes hits every configuration alike. The result of each call is passed
to `sync` (default jax.block_until_ready) inside the timed region, so
asynchronous dispatch is waited for. Reported per callable: the median (the
typical figure) and the best (the least disturbed call, a gauge of the
noise), of wall-clock time and of this process's CPU time (all its threads:
it moves less than wall time with other processes' load, as long as nothing
spin-waits).

A callable that did its work elsewhere (another process, a subprocess)
returns `Measured(wall_s, cpu_s)`, and those figures are used instead of the
local ones.
"""
import dataclasses
import math
import statistics
import time
from typing import Any, Callable, Dict, List, Mapping, Union

import jax


@dataclasses.dataclass(frozen=True)
class Measured:
  """Seconds a callable measured itself (e.g. work done in a child process)."""
  wall_s: float
  cpu_s: float


@dataclasses.dataclass
class Timing:
  """Timed calls of one callable; `items` (e.g. examples) per call."""
  label: str
  items: float = 0.0
  wall_s: List[float] = dataclasses.field(default_factory=list)
  cpu_s: List[float] = dataclasses.field(default_factory=list)
  warmup_s: float = math.nan  # the first warm-up call (compilation included)

  @property
  def median_s(self) -> float:
    return statistics.median(self.wall_s) if self.wall_s else math.nan

  @property
  def best_s(self) -> float:
    return min(self.wall_s) if self.wall_s else math.nan

  @property
  def cpu_median_s(self) -> float:
    return statistics.median(self.cpu_s) if self.cpu_s else math.nan

  def rate(self) -> float:
    """Items per second of the median call."""
    return _ratio(self.items, self.median_s)

  def best_rate(self) -> float:
    return _ratio(self.items, self.best_s)

  def cpu_rate(self) -> float:
    """Items per CPU-second (median call)."""
    return _ratio(self.items, self.cpu_median_s)


def _ratio(items: float, seconds: float) -> float:
  return items / seconds if seconds > 0 else math.nan


def call(fn: Callable[[], Any],
         sync: Callable[[Any], Any] = jax.block_until_ready):
  """(wall seconds, CPU seconds, result) of one call of `fn`, synced."""
  wall0, cpu0 = time.perf_counter(), time.process_time()
  result = fn()
  sync(result)
  wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
  if isinstance(result, Measured):
    wall, cpu = result.wall_s, result.cpu_s
  return wall, cpu, result


def interleave(fns: Mapping[str, Callable[[], Any]], *, repeats: int = 5,
               warmup: int = 1,
               items: Union[float, Mapping[str, float]] = 0.0,
               budget_s: float = math.inf, min_repeats: int = 1,
               once_after_s: float = math.inf,
               sync: Callable[[Any], Any] = jax.block_until_ready,
               ) -> Dict[str, Timing]:
  """Timings of each callable over `repeats` interleaved rounds.

  warmup: untimed calls of each callable first (its first one's time is kept
  as `warmup_s`). items: per call, one number for all or one per label.
  budget_s: no new round starts once the timed calls have taken this long
  in all (the first `min_repeats` rounds always run). once_after_s: a callable whose first
  warm-up call took longer is timed in the first round only (a slow
  configuration does not multiply the run time).
  """
  timings = {
      label: Timing(label, float(items.get(label, 0.0) if isinstance(
          items, Mapping) else items)) for label in fns}
  for label, fn in fns.items():
    for i in range(warmup):
      wall, _, _ = call(fn, sync)
      if i == 0:
        timings[label].warmup_s = wall
  spent = 0.0
  for round_ in range(repeats):
    if round_ >= min_repeats and spent > budget_s:
      break
    for label, fn in fns.items():
      t = timings[label]
      if round_ and t.warmup_s > once_after_s:
        continue
      wall, cpu, _ = call(fn, sync)
      t.wall_s.append(wall)
      t.cpu_s.append(cpu)
      spent += wall
  return timings


def time_fn(fn: Callable[[], Any], *, label: str = '', **kwargs) -> Timing:
  """interleave() of one callable."""
  return interleave({label: fn}, **kwargs)[label]
