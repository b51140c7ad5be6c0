"""Trial shards: the shards of a grid are disjoint, together the whole grid,
and their merged report equals the unsharded run's."""
import os
import subprocess
import sys

from conftest import tiny_config
from dlexp import report
from dlexp.train import runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AXES = {'model.activation': ['relu', 'elu'],
        'optimizer.learning_rate': [0.05, 0.2]}
COLUMNS = report.DEFAULT_COLUMNS[:3]  # not wall time


def _run(workdir, shard=(0, 1)):
  cfg = tiny_config(epochs=1, members='loop')  # loop: bitwise per member
  return runner.run(cfg, AXES, str(workdir), out=runner.Printer(quiet=True),
                    shard=shard)


def _rel(results, workdir):
  return [os.path.relpath(r['directory'], workdir) for r in results]


def test_shards_partition_the_grid_and_merge_into_the_same_report(tmp_path):
  whole = _run(tmp_path / 'whole')
  parts = [_run(tmp_path / f's{i}', (i, 3)) for i in range(3)]
  names = [_rel(p, tmp_path / f's{i}') for i, p in enumerate(parts)]
  flat = [n for part in names for n in part]
  assert sorted(flat) == sorted(_rel(whole, tmp_path / 'whole'))
  assert len(flat) == len(set(flat)) == 4  # disjoint, complete
  assert all(names)  # no empty shard
  merged = [r for i in range(3) for r in report.load_runs(str(tmp_path /
                                                              f's{i}'))]
  unsharded = report.load_runs(str(tmp_path / 'whole'))
  order = list(dict.fromkeys(r['trial'] for r in whole))
  assert report.table(report.by_trial(merged), COLUMNS, order) == (
      report.table(report.by_trial(unsharded), COLUMNS, order))
  # The report command merges shard workdirs the same way.
  proc = subprocess.run(
      [sys.executable, '-m', 'dlexp.report'] + [str(tmp_path / f's{i}')
                                                for i in range(3)],
      cwd=ROOT, capture_output=True, text=True, check=True)
  assert proc.stdout.count('| activation=') == 4
