"""k-fold cross-validation: folds are members of one program; each trains on
the other folds only and validates on its own."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import tiny_config
from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp import records
from dlexp.errors import ConfigError
from dlexp.train import program as program_lib
from dlexp.train import runner
from jax.sharding import Mesh

QUIET = runner.Printer(quiet=True)


def _program(cfg):
  dataset = data_lib.load(cfg.data)
  mesh = Mesh(np.array(jax.devices()), ('data',))
  return program_lib.build(cfg, dataset, mesh), dataset


def test_folds_partition_the_training_split():
  cfg = tiny_config(data__cv_folds=4, data__val_size=0)
  prog, dataset = _program(cfg)
  n = len(dataset.train_y)
  held, trained = [], []
  for fold in range(4):
    hp = {'data.cv_fold': jnp.float32(fold)}
    train, out = map(np.asarray, prog.steps.fold_indices(hp, n))
    assert len(out) == n // 4 and len(train) == 3 * (n // 4)
    assert not set(train) & set(out)
    held.append(set(out))
    trained.append(set(train))
  assert all(not a & b for i, a in enumerate(held) for b in held[i + 1:])
  union = set().union(*held)
  assert len(union) == 4 * (n // 4)
  assert all(t == union - h for t, h in zip(trained, held))


def test_an_epoch_draws_only_training_folds():
  cfg = tiny_config(data__cv_folds=3, data__val_size=0)
  prog, dataset = _program(cfg)
  state = prog.steps.init(jnp.int32(0), jnp.zeros((1, 8, 8, 1)))
  hp = {'data.cv_fold': jnp.float32(1)}
  order = np.asarray(prog.steps.epoch_order(state, dataset.train_y, hp))
  _, held_out = prog.steps.fold_indices(hp, len(dataset.train_y))
  assert order.shape == (prog.steps.steps_per_epoch, cfg.batch_size)
  assert not set(order.ravel()) & set(np.asarray(held_out))
  assert len(set(order.ravel())) == order.size  # no example twice


def test_folds_train_as_members_and_equal_a_fold_alone(tmp_path):
  cfg = tiny_config(data__cv_folds=3, data__val_size=0, members='vmap')
  together = runner.run(cfg, {}, str(tmp_path / 'v'), out=QUIET)
  assert [os.path.basename(r['directory']) for r in together] == [
      'fold_0', 'fold_1', 'fold_2']
  losses = [r['val_loss'] for r in together]
  assert len(set(losses)) == 3  # each fold validates on its own examples
  looped = runner.run(tiny_config(data__cv_folds=3, data__val_size=0,
                                  members='loop'), {}, str(tmp_path / 'l'),
                      out=QUIET)
  for a, b in zip(together, looped):
    np.testing.assert_allclose(a['val_loss'], b['val_loss'], rtol=2e-5)
    np.testing.assert_allclose(a['test_loss'], b['test_loss'], rtol=2e-5)
  rows = records.read_metrics(os.path.join(together[1]['directory'],
                                           'metrics.jsonl'))
  assert [r['epoch'] for r in rows] == [0, 1, 2]


def test_explicit_validation_split_with_folds_is_an_error():
  cfg = tiny_config(data__cv_folds=3)  # conftest sets val_size=500
  with pytest.raises(ConfigError, match='held-out fold'):
    config_lib.validate(cfg)
  cfg = tiny_config(data__cv_folds=1, data__val_size=0)
  with pytest.raises(ConfigError, match='cv_folds=1'):
    config_lib.validate(cfg)
