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


def _examples(ds):
  """The dataset's training and validation inputs, as a set of rows."""
  return {x.tobytes() for split in (ds.train_x, ds.val_x) for x in split}


def test_train_parts_share_no_training_or_validation_example():
  """data.train_part: a source and a target task on disjoint images, even
  with other classes and another split_seed; the test split is untouched."""
  from dlexp import data  # pylint: disable=g-import-not-at-top
  def load(**fields):
    c = data.defaults()
    c.name, c.standardize, c.val_size = 'synthetic', False, 200
    for key, value in fields.items():
      setattr(c, key, value)
    return data.load(c)
  whole = load(classes=(0, 1, 2))
  source = load(train_part=(0, 2))  # all ten classes
  target = load(train_part=(1, 2), classes=(0, 1, 2), split_seed=3)
  assert not _examples(source) & _examples(target)
  assert len(_examples(source)) == 5000  # half of the 10,000
  other = load(train_part=(0, 2), classes=(0, 1, 2))
  assert _examples(other) | _examples(target) == _examples(whole)
  np.testing.assert_array_equal(target.test_x, whole.test_x)
  # One fixed partition: the same part whatever the split_seed.
  assert _examples(load(train_part=(1, 3), split_seed=1)) == _examples(
      load(train_part=(1, 3), split_seed=2))


@pytest.mark.parametrize('part', [(2, 2), (0, 1), (1,), (-1, 2), (0, 2, 4),
                                  (True, 2)])
def test_bad_train_part_is_a_one_line_error(part):
  from dlexp import data  # pylint: disable=g-import-not-at-top
  c = data.defaults()
  c.train_part = part
  with pytest.raises(ConfigError, match=r'data.train_part=.* must be empty '
                     r'\(all\) or \(i, k\)') as e:
    data.validate(c)
  assert '\n' not in str(e.value)
