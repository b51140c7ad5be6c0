"""The persistent compilation cache: a second process loads the programs the
first one compiled; 'off' writes nothing; bad values are refused."""
import json
import os
import subprocess
import sys

import pytest

from dlexp import config as config_lib
from dlexp.errors import ConfigError
from dlexp import compile_cache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Not through conftest, which turns the tests' shared cache on at import.
_TRAIN = r'''
import json, sys
from dlexp import config as config_lib
from dlexp.train import runner
cfg = config_lib.default_config()
cfg.data.name, cfg.data.val_size, cfg.data.train_limit = 'synthetic', 500, 1024
cfg.model.depth, cfg.model.width = 2, 12  # a shape no other test compiles
cfg.epochs, cfg.batch_size, cfg.diagnostics.every_epochs = 1, 64, 0
cfg.compile_cache = sys.argv[2]
res = runner.run(cfg, {}, sys.argv[1], out=runner.Printer(quiet=True))
status = json.load(open(res[0]['directory'] + '/status.json'))
print(json.dumps(status['compile_seconds']))
'''


def _train(workdir, cache, env=None):
  proc = subprocess.run(
      [sys.executable, '-c', _TRAIN, str(workdir), cache], cwd=ROOT,
      capture_output=True, text=True, timeout=300,
      env=dict(os.environ, **(env or {})))
  assert proc.returncode == 0, proc.stderr
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _entries(directory):
  return sorted(f for f in os.listdir(directory) if f.endswith('-cache'))


def test_second_process_reuses_the_compiled_programs(tmp_path):
  cache = tmp_path / 'cache'
  # 'auto' defers to $DLEXP_COMPILE_CACHE; an explicit directory is used.
  cold = _train(tmp_path / 'a', 'auto', env={'DLEXP_COMPILE_CACHE': str(cache)})
  written = _entries(cache)
  assert len(written) >= 4  # init, epoch, evaluation, after-epoch
  warm = _train(tmp_path / 'b', str(cache))
  # Every program came from the cache: a miss would have written an entry.
  # (Compile times are not compared: a timing flips on a loaded machine;
  # benchmarks/bench_compile.py measures them.)
  assert _entries(cache) == written
  assert cold > 0 and warm > 0


def test_off_writes_nothing(tmp_path):
  cache = tmp_path / 'unused'
  _train(tmp_path / 'a', 'off', env={'DLEXP_COMPILE_CACHE': str(cache)})
  assert not cache.exists()


def test_bad_values_are_refused(tmp_path):
  (tmp_path / 'file').write_text('x')
  c = config_lib.default_config()
  for bad, match in ((str(tmp_path / 'file'), 'is a file'), ('', 'not allowed')):
    c.compile_cache = bad
    with pytest.raises(ConfigError, match=match):
      config_lib.validate(c)
  assert compile_cache.resolve('off') is None
  assert compile_cache.resolve('OFF') is None
