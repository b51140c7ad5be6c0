"""Zipped grid axes: a tuple of config paths whose values go together (a
random search's samples), crossed with the other axes; traced ones share
one program."""
import json
import os

import pytest

from conftest import tiny_config
from dlexp.errors import ConfigError
from dlexp.train import runner

QUIET = runner.Printer(quiet=True)
SAMPLES = [(0.01, 0.0), (0.1, 0.001), (0.03, 0.0003)]


def test_zipped_axis_gives_its_combinations_only():
  axes = {('optimizer.learning_rate', 'reg.l2'): SAMPLES,
          'model.width': [8, 16]}
  trials = runner.make_trials(tiny_config(), axes)
  assert len(trials) == 6
  assert trials[0].name == 'learning_rate=0.01,l2=0,width=8'
  assert trials[3].overrides == {'optimizer.learning_rate': 0.1,
                                 'reg.l2': 0.001, 'model.width': 16}
  assert [(t.config.optimizer.learning_rate, t.config.reg.l2)
          for t in trials[::2]] == SAMPLES
  # Learning rate and L2 are traced: one program per width.
  assert len(runner.group_trials(trials)) == 2


@pytest.mark.parametrize('axes, message', [
    ({('optimizer.learning_rate', 'reg.l2'): [(0.1,)]},
     r'every value must be a tuple of 2 values'),
    ({('optimizer.learning_rate', 'data.val_size'): [(0.1, 10)]},
     r'data.val_size cannot be a grid axis'),
    ({('optimizer.learning_rate', 'reg.l3'): [(0.1, 0.0)]},
     r"unknown config key 'reg.l3'"),
])
def test_bad_zipped_axes(axes, message):
  with pytest.raises(ConfigError, match=message):
    runner.make_trials(tiny_config(), axes)


def test_zipped_samples_train_as_members_of_one_program(tmp_path):
  axes = {('optimizer.learning_rate', 'model.dropout_rate'): [(0.05, 0.0),
                                                              (0.1, 0.2)]}
  results = runner.run(tiny_config(epochs=1), axes, str(tmp_path), out=QUIET)
  assert [r['trial'] for r in results] == [
      'learning_rate=0.05,dropout_rate=0', 'learning_rate=0.1,dropout_rate=0.2']
  for r in results:
    with open(os.path.join(r['directory'], 'config.json')) as f:
      assert json.load(f)['members_in_program'] == 2
