"""Toolbox features exercised through the engine (`runner.run`): diagnostics,
pruning, L1, early stopping, max-norm, reduce-on-plateau and extreme momentum,
checked on the numbers the engine writes (metrics.jsonl, status.json).

Compilation dominates the cost of a tiny run, so each module fixture is one
`runner.run` whose compiled groups serve several tests.
"""
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from conftest import tiny_config
from dlexp import data as data_lib
from dlexp import models, records
from dlexp import grid as grid_lib
from dlexp.train import runner

QUIET = runner.Printer(quiet=True)


def _config(**overrides):
  # 500 test examples, like validation: one eval batch shape, one compile.
  return tiny_config(data__test_limit=500, **overrides)


@pytest.fixture(scope='module')
def dataset():
  return data_lib.load(_config().data)


def _run(config, axes, workdir, dataset, hooks=()):
  return runner.run(config, axes, str(workdir), out=QUIET, dataset=dataset,
                    final_hooks=hooks)


def _rows(result):
  return records.read_metrics(os.path.join(result['directory'],
                                           'metrics.jsonl'))


def _status(result):
  with open(os.path.join(result['directory'], 'status.json')) as f:
    return json.load(f)


def _series(rows, key):
  return np.array([float(r[key]) for r in rows if key in r], np.float64)


def _by_trial(results):
  return {r['trial']: r for r in results}


def _kernels(params):
  """{layer name: kernel (members, ..., in, out)} of stacked member params."""
  flat = traverse_util.flatten_dict(jax.device_get(params))
  return {'/'.join(p[:-1]): np.asarray(w) for p, w in flat.items()
          if p[-1] == 'kernel'}


def _improving(values, better):
  """Epoch flags of strict improvements over the best so far (min_delta 0)."""
  best, flags = None, []
  for v in values:
    ok = math.isfinite(v) and (best is None or better(v, best))
    flags.append(ok)
    best = v if ok else best
  return flags


def _layers(config, dataset):
  """(activation names, parameter layer names, kernel layer names) of the
  model, found independently of the diagnostics: activations are the modules
  that sow intermediates/act."""
  model = models.build_model(config.model, dataset.num_classes,
                             dataset.input_shape)
  x = jnp.zeros((2,) + tuple(dataset.input_shape))
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  _, state = model.apply(variables, x, train=False, mutable=['intermediates'])
  acts = traverse_util.flatten_dict(state['intermediates'])
  params = traverse_util.flatten_dict(variables['params'])
  name = lambda path: '/'.join(path[:-1])
  return (sorted(name(p) for p in acts if p[-1] == 'act'),
          sorted({name(p) for p in params}),
          sorted(name(p) for p in params if p[-1] == 'kernel'))


# -- diagnostics --------------------------------------------------------------
@pytest.fixture(scope='module')
def dead_run(dataset, tmp_path_factory):
  c = _config(epochs=1, model__bias_init=-100.0)
  c.diagnostics.every_epochs = 1
  result = _run(c, {}, tmp_path_factory.mktemp('dead'), dataset)[0]
  return _layers(c, dataset), _rows(result)


def test_huge_negative_bias_kills_every_unit(dead_run):
  (acts, _, _), rows = dead_run
  assert acts == ['act1', 'act2']
  assert [r['epoch'] for r in rows] == [0, 1]
  for row in rows:  # at init, and still after an epoch: ReLU death is final
    assert row['diag/dead_fraction'] == 1.0
    assert row['diag/never_positive_fraction'] == 1.0
    for name in acts:
      assert row[f'diag/{name}/dead_fraction'] == 1.0
      assert row[f'diag/{name}/never_positive_fraction'] == 1.0
      assert row[f'diag/{name}/act_mean'] == 0.0
      assert row[f'diag/{name}/act_std'] == 0.0
    # No gradient reaches the hidden layers; the logits still get one
    # (through their bias).
    assert row['diag/dense1/grad_norm'] == 0.0
    assert row['diag/dense2/grad_norm'] == 0.0
    assert row['diag/logits/grad_norm'] > 0.0


def test_diagnostic_keys_for_every_activation_and_layer(dead_run):
  (acts, layers, kernels), rows = dead_run
  for row in rows:
    for name in acts:
      for stat in ('dead_fraction', 'never_positive_fraction', 'act_mean',
                   'act_std'):
        assert f'diag/{name}/{stat}' in row, (name, stat)
    for name in layers:
      assert f'diag/{name}/grad_norm' in row, name
    for name in kernels:
      for stat in ('weight_zero_fraction', 'weight_small_fraction'):
        assert f'diag/{name}/{stat}' in row, (name, stat)
    per_layer = {k.split('/')[1] for k in row
                 if k.startswith('diag/') and k.count('/') == 2}
    assert per_layer == set(acts) | set(layers)  # nothing unexplained


# -- He init, L1, extreme momentum, early stopping with patience 0 -----------
MOMENTA = [0.0, 0.9, 0.99999]
L1S = [0.0, 0.01]


@pytest.fixture(scope='module')
def grid_run(dataset, tmp_path_factory):
  """L1 x momentum (extreme included) as one vmapped program, and the
  ordinary members again, each alone (loop mode: chunks of one through one
  compiled program). Both use the default He init and bias 0."""
  axes = {'reg.l1': L1S, 'optimizer.momentum': MOMENTA}
  base = _config(epochs=4, members='vmap')
  base.diagnostics.every_epochs = 1
  # Patience 0 never stops; the best epoch must be restored all the same.
  assert base.early_stopping.patience == 0
  groups = grid_lib.group_trials(grid_lib.make_trials(base, axes))
  grid = _by_trial(_run(base, axes, tmp_path_factory.mktemp('grid'),
                        dataset))
  alone = _by_trial(_run(_config(epochs=4, members='loop'),
                         {'reg.l1': L1S, 'optimizer.momentum': MOMENTA[:-1]},
                         tmp_path_factory.mktemp('alone'), dataset))
  return groups, grid, alone


def test_he_init_units_alive_with_unit_scale(grid_run):
  _, grid, _ = grid_run
  row = _rows(grid['l1=0,momentum=0.9'])[0]
  assert row['epoch'] == 0
  assert row['diag/dead_fraction'] < 0.5
  for name in ('act1', 'act2'):
    assert row[f'diag/{name}/dead_fraction'] < 0.5
    # He init keeps E[z^2] = 2 E[x^2] = 2 for standardized x; relu(z) with
    # z ~ N(0, 2) has std sqrt(1 - 1/pi) = 0.83 in every layer.
    assert 0.5 < row[f'diag/{name}/act_std'] < 1.3, row
    assert row[f'diag/{name}/act_mean'] > 0.0
  # The initialization does not depend on a traced value.
  diag = lambda r: {k: v for k, v in r.items() if k.startswith('diag/')}
  for result in grid.values():
    assert diag(_rows(result)[0]) == diag(row), result['trial']


def test_l1_drives_weights_near_zero_not_to_zero(grid_run):
  _, grid, _ = grid_run
  plain = _rows(grid['l1=0,momentum=0.9'])[-1]
  lasso_rows = _rows(grid['l1=0.01,momentum=0.9'])
  lasso = lasso_rows[-1]
  assert plain['epoch'] == lasso['epoch'] == 4
  assert plain['diag/weight_small_fraction'] < 0.05
  assert lasso['diag/weight_small_fraction'] > 0.2
  assert lasso['diag/weight_small_fraction'] > (
      5 * plain['diag/weight_small_fraction'])
  # SGD on |w| overshoots zero by up to lr * l1 per step instead of landing
  # on it: near-zero weights, no exact zeros (that is what pruning does).
  assert lasso['diag/weight_zero_fraction'] < 0.01
  assert plain['diag/weight_zero_fraction'] < 0.01
  small = _series(lasso_rows, 'diag/weight_small_fraction')
  assert small[-1] > small[1] > small[0]


def test_extreme_momentum_grid_is_one_program_and_isolated(grid_run):
  groups, grid, alone = grid_run
  assert len(groups) == 1 and len(groups[0]) == len(L1S) * len(MOMENTA)
  for result in grid.values():
    with open(os.path.join(result['directory'], 'config.json')) as f:
      assert json.load(f)['members_in_program'] == len(grid)
    status = _status(result)
    assert status['status'] in ('done', 'diverged'), status['status']
    losses = _series(_rows(result), 'train_loss')
    if status['status'] == 'done':
      assert np.all(np.isfinite(losses)), result['trial']
      assert np.isfinite(status['final']['test_loss']), result['trial']
    else:
      assert status['final']['diverged_epoch'] >= 1
      assert not np.isfinite(losses[-1])
  assert set(alone) == {t for t in grid if 'momentum=0.99999' not in t}
  for trial, single in alone.items():
    together = grid[trial]
    assert together['status'] == single['status'] == 'done', trial
    for key in ('train_loss', 'val_loss', 'val_accuracy'):
      np.testing.assert_allclose(_series(_rows(together), key),
                                 _series(_rows(single), key), rtol=2e-5,
                                 atol=1e-6, err_msg=f'{trial} {key}')
    np.testing.assert_allclose(together['test_loss'], single['test_loss'],
                               rtol=2e-5)


def test_patience_zero_restores_the_best_epoch(grid_run):
  _, grid, alone = grid_run
  restored_earlier = 0
  for result in list(grid.values()) + list(alone.values()):
    rows = _rows(result)[1:]
    val = _series(rows, 'val_loss')
    final = _status(result)['final']
    finite = val[np.isfinite(val)]
    if not finite.size:  # diverged in epoch 1: no best epoch exists
      continue
    assert final['restored_best'] is True
    assert final['best_epoch'] == int(np.nanargmin(np.where(
        np.isfinite(val), val, np.nan))) + 1
    assert final['val_loss'] == pytest.approx(finite.min(), rel=1e-5)
    assert [r['saved_best'] for r in rows] == _improving(
        val, lambda a, b: a < b), result['trial']
    restored_earlier += final['best_epoch'] < len(rows)
  # Restoring mattered: some member's last epoch was not its best.
  assert restored_earlier >= 1


# -- pruning ------------------------------------------------------------------
def _zero_fractions(ctx):
  return {f'zero/{name}': np.mean(w == 0, axis=tuple(range(1, w.ndim)))
          for name, w in _kernels(ctx.params).items()}


@pytest.fixture(scope='module')
def prune_run(dataset, tmp_path_factory):
  c = _config(epochs=4, reg__prune_sparsity=0.5, reg__prune_start_epoch=1,
              reg__prune_end_epoch=3, reg__prune_every_steps=8)
  c.diagnostics.every_epochs = 1
  return _by_trial(_run(c, {'reg.prune_method': ['one_shot', 'gradual']},
                        tmp_path_factory.mktemp('prune'), dataset,
                        hooks=[_zero_fractions]))


LAYERS = ('dense1', 'dense2', 'logits')  # 1024, 256 and 160 weights


def _zero_curve(rows, layer):
  return [r[f'diag/{layer}/weight_zero_fraction'] for r in rows]


def test_one_shot_pruning_is_exact_and_kept_while_training(prune_run):
  result = prune_run['prune_method=one_shot']
  rows = _rows(result)
  assert [r['epoch'] for r in rows] == [0, 1, 2, 3, 4]
  for layer in LAYERS:
    # Pruned at the last step of epoch 1; every later update respects the
    # masks, so the zeros stay exact (a leaked update would give ~1e-4).
    assert _zero_curve(rows, layer) == [0.0, 0.5, 0.5, 0.5, 0.5], layer
  assert rows[-1]['diag/weight_zero_fraction'] == 0.5
  _check_final_sparsity(result, rows)
  assert _status(result)['final']['val_accuracy'] > 0.9  # still classifies


def _check_final_sparsity(result, rows):
  # The final hook sees the restored best parameters: the sparsity of the
  # best epoch, masks included.
  final = _status(result)['final']
  best = rows[final['best_epoch']]
  for layer in LAYERS:
    assert final[f'zero/{layer}'] == best[
        f'diag/{layer}/weight_zero_fraction'], layer


def test_gradual_pruning_reaches_target_at_end_epoch(prune_run):
  rows = _rows(prune_run['prune_method=gradual'])
  # Zhu & Gupta: s = 0.5 (1 - (1 - (t - t0) / (t1 - t0))^3), t0 = 32 steps
  # (epoch 1), t1 = 96 (epoch 3); at epoch 2 (t = 64) s = 0.4375, which
  # floor(s n) / n gives exactly for n = 1024, 256, 160.
  for layer in LAYERS:
    assert _zero_curve(rows, layer) == [0.0, 0.0, 0.4375, 0.5, 0.5], layer
  _check_final_sparsity(prune_run['prune_method=gradual'], rows)


# -- max-norm, reduce-on-plateau, early stopping on val_accuracy --------------
def _max_incoming_norm(ctx):
  """Per member: the largest incoming-weight norm of any unit."""
  norms = [np.sqrt(np.sum(np.square(w), axis=tuple(range(1, w.ndim - 1))))
           .max(axis=-1) for w in _kernels(ctx.params).values()]
  return {'max_incoming_norm': np.max(np.stack(norms), axis=0)}


PLATEAU = dict(patience=2, factor=0.5, min_delta=0.01)
LR_AXIS = [1e-6, 0.02, 0.2]


@pytest.fixture(scope='module')
def constrained_run(dataset, tmp_path_factory):
  """One group for three features: max-norm 0.5, reduce-on-plateau and
  early stopping on val_accuracy whose patience outlasts the run. lr 1e-6
  cannot move val_loss by min_delta, so that member's plateau is forced."""
  c = _config(epochs=6, reg__max_norm=0.5, schedule__name='plateau',
              schedule__plateau_patience=PLATEAU['patience'],
              schedule__plateau_factor=PLATEAU['factor'],
              schedule__plateau_min_delta=PLATEAU['min_delta'])
  c.early_stopping.monitor = 'val_accuracy'
  c.early_stopping.patience = 100
  return _by_trial(_run(c, {'optimizer.learning_rate': LR_AXIS},
                        tmp_path_factory.mktemp('constrained'), dataset,
                        hooks=[_max_incoming_norm]))


def test_max_norm_bounds_every_unit(constrained_run):
  for result in constrained_run.values():
    norm = _status(result)['final']['max_incoming_norm']
    # He init gives norms near sqrt(2) > 0.5, so the bound is active.
    assert 0.5 - 1e-3 < norm <= 0.5 + 1e-5, (result['trial'], norm)


def _plateau_scales(values, patience, factor, min_delta, sign=1.0):
  """Keras ReduceLROnPlateau (absolute min_delta, no cooldown): the scale in
  force during each epoch, given the monitored value at the end of each
  epoch; sign -1 for 'max' mode."""
  scale, best, bad, out = 1.0, math.inf, 0, []
  for v in values:
    v = sign * v
    out.append(scale)
    if v < best - min_delta:
      best, bad = v, 0
    else:
      bad += 1
    if bad >= patience:
      scale, bad = scale * factor, 0
  return out


def test_plateau_schedule_reduces_after_patience(constrained_run):
  for lr in LR_AXIS:
    rows = _rows(constrained_run[f'learning_rate={lr:g}'])[1:]
    logged = _series(rows, 'learning_rate') / lr
    expected = _plateau_scales(_series(rows, 'val_loss'), **PLATEAU)
    np.testing.assert_allclose(logged, expected, rtol=1e-6, err_msg=str(lr))
  # The frozen member improves once (from inf), then reduces after every
  # `patience` epochs: x0.5 during epochs 4-5, x0.25 during epoch 6.
  rows = _rows(constrained_run['learning_rate=1e-06'])[1:]
  np.testing.assert_allclose(_series(rows, 'learning_rate') / 1e-6,
                             [1, 1, 1, 0.5, 0.5, 0.25], rtol=1e-6)


@pytest.fixture(scope='module')
def plateau_max_run(dataset, tmp_path_factory):
  """plateau_mode 'max' with schedule.plateau_monitor='val_accuracy'."""
  c = _config(epochs=5, schedule__name='plateau', schedule__plateau_mode='max',
              schedule__plateau_patience=1, schedule__plateau_factor=0.5,
              schedule__plateau_min_delta=0.005, optimizer__learning_rate=0.02)
  c.early_stopping.monitor = 'val_accuracy'
  c.schedule.plateau_monitor = 'val_accuracy'
  return _run(c, {}, tmp_path_factory.mktemp('plateau_max'), dataset)[0]


def test_plateau_max_mode_follows_val_accuracy(plateau_max_run):
  rows = _rows(plateau_max_run)[1:]
  knobs = dict(patience=1, factor=0.5, min_delta=0.005, sign=-1.0)
  on_accuracy = _plateau_scales(_series(rows, 'val_accuracy'), **knobs)
  on_loss = _plateau_scales(_series(rows, 'val_loss'), **knobs)
  assert on_accuracy != on_loss  # the run tells the two metrics apart
  np.testing.assert_allclose(
      _series(rows, 'learning_rate') / 0.02, on_accuracy, rtol=1e-6,
      err_msg=f'scales computed from val_loss instead: {on_loss}')


def test_early_stopping_on_val_accuracy_restores_the_max(constrained_run):
  telling = 0
  for result in constrained_run.values():
    rows = _rows(result)[1:]
    acc, loss = _series(rows, 'val_accuracy'), _series(rows, 'val_loss')
    final = _status(result)['final']
    # Patience 100 never runs out, and the best epoch is still restored.
    assert final['stopped_epoch'] is None and final['epochs_run'] == 6
    assert final['restored_best'] is True
    best = int(acc.argmax())  # mode 'auto' on an accuracy: max, first of ties
    assert final['best_epoch'] == best + 1, result['trial']
    assert final['val_accuracy'] == pytest.approx(acc[best], abs=1e-6)
    assert final['val_loss'] == pytest.approx(loss[best], rel=1e-6)
    assert [r['saved_best'] for r in rows] == _improving(
        acc, lambda a, b: a > b), result['trial']
    # A member whose best epoch is neither the last (restoring changes the
    # result) nor the one min-mode or a val_loss monitor would pick.
    telling += (best != len(rows) - 1 and best != int(acc.argmin())
                and best != int(loss.argmin())
                and abs(loss[best] - loss[-1]) > 1e-3)
  assert telling >= 1

