"""A trial's seeds as one saved source (dlexp.load of run directories), so
that every seed of a transfer run starts from its own source seed."""
import numpy as np
import pytest

from conftest import tiny_config
import dlexp
from dlexp.errors import ConfigError
from dlexp.train import runner

QUIET = runner.Printer(quiet=True)


def test_each_seed_starts_from_its_own_source_seed(tmp_path):
  source = runner.run(tiny_config(num_seeds=2, epochs=1), {},
                      str(tmp_path / 'source'), out=QUIET)
  dirs = [r['directory'] for r in sorted(source, key=lambda r: r['seed'])]
  both = dlexp.load(dirs)
  assert both.seeds == [0, 1]
  path = both.save(str(tmp_path / 'source_model'))
  target = tiny_config(num_seeds=2, epochs=1, data__classes=(0, 1, 2))
  target.init.from_path, target.init.skip = path, ('logits',)
  target.train.freeze = ('dense[12]',)
  results = runner.run(target, {}, str(tmp_path / 'target'), out=QUIET)
  for r in results:
    got = dlexp.load(r['directory']).params()['dense1']['kernel']
    want = dlexp.load(dirs[r['seed']]).params()['dense1']['kernel']
    np.testing.assert_array_equal(got, want)
  assert not np.array_equal(both.params(seed=0)['dense1']['kernel'],
                            both.params(seed=1)['dense1']['kernel'])
  with pytest.raises(ConfigError, match='at least one run directory'):
    dlexp.load([])
