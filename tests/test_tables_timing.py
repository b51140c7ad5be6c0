"""dlexp.tables (the markdown writer) and dlexp.timing (the timing harness)."""
import time

import pytest

from dlexp import tables, timing


def test_markdown_exact_output():
  text = tables.markdown(['model', 'examples/s', 'note'],
                         [['cnn', '2,061', 'a | b'], ['mlp', 3, 'two\nlines']],
                         align='lrc')
  assert text == ('| model | examples/s | note |\n'
                  '|---|---:|:---:|\n'
                  '| cnn | 2,061 | a \\| b |\n'
                  '| mlp | 3 | two lines |')


def test_markdown_pads_short_rows_and_rejects_long_rows_and_bad_align():
  assert tables.markdown(['a', 'b'], [['x']]).splitlines()[-1] == '| x |  |'
  with pytest.raises(ValueError, match='row 0 has 3 cells for 2 columns'):
    tables.markdown(['a', 'b'], [[1, 2, 3]])
  with pytest.raises(ValueError, match="align='lx'"):
    tables.markdown(['a', 'b'], [], align='lx')


def test_interleave_calls_warm_up_then_alternates():
  calls = []
  fns = {name: (lambda name=name: calls.append(name)) for name in 'ab'}
  timings = timing.interleave(fns, warmup=2, repeats=3)
  assert calls == ['a', 'a', 'b', 'b'] + ['a', 'b'] * 3
  assert all(len(t.wall_s) == len(t.cpu_s) == 3 for t in timings.values())


def test_statistics_and_rates_of_a_sleeping_callable():
  t = timing.time_fn(lambda: time.sleep(0.02), repeats=3, warmup=1, items=10)
  assert 0.02 <= t.best_s <= t.median_s < 0.5
  # Sleeping uses (almost) no CPU.
  assert t.cpu_median_s < 0.5 * t.median_s
  assert t.rate() == pytest.approx(10 / t.median_s)
  assert t.best_rate() >= t.rate()
  assert t.warmup_s >= 0.02


def test_budget_once_after_and_self_measured_callables():
  # Callables that report their own times (as work in another process
  # does): the budget counts those, so rounds are deterministic.
  takes = lambda s: (lambda: timing.Measured(s, s / 4))
  # The first round always runs; no round starts after 0.03 s are spent.
  t = timing.time_fn(takes(0.02), repeats=10, warmup=0, budget_s=0.03)
  assert len(t.wall_s) == 2
  t = timing.time_fn(takes(0.02), repeats=10, warmup=0, budget_s=0.0,
                     min_repeats=3)
  assert len(t.wall_s) == 3
  slow = {'slow': takes(0.03), 'fast': takes(0.01)}
  timings = timing.interleave(slow, repeats=3, once_after_s=0.02)
  assert len(timings['slow'].wall_s) == 1 and len(timings['fast'].wall_s) == 3
  assert timings['slow'].warmup_s == 0.03
  remote = timing.time_fn(takes(1.5), repeats=3, items=3)
  assert remote.median_s == 1.5 and remote.cpu_median_s == 0.375
  assert remote.rate() == 2.0 and remote.cpu_rate() == 8.0


def test_sync_waits_for_each_result():
  synced = []
  timing.time_fn(lambda: 'result', repeats=2, warmup=1, sync=synced.append)
  assert synced == ['result'] * 3
