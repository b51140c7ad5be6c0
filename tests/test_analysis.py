"""dlexp.analysis: diagnostics readers, the symmetry measure, the dropout
measurements and the final hooks on real (tiny) runs."""
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import tiny_config
from dlexp import analysis, models, records, report
from dlexp import config as config_lib
from dlexp.errors import ConfigError
from dlexp.train import runner

QUIET = runner.Printer(quiet=True)


def _fake_run(rows, directory='/nowhere', config=None):
  return report.Run(str(directory), config or {}, {'final': {}}, _metrics=rows)


def _resnet_order():
  model = models.build_model(models.tiny_config('resnet'), 10, (8, 8, 1))
  return models.layer_order(model, (8, 8, 1))


def test_layer_names_follow_the_call_order_not_the_names():
  order = _resnet_order()
  acts = [n for n in order if n.endswith('_act')]
  row = {f'diag/{n}/act_std': 1.0 for n in sorted(acts)}  # keys sorted
  row['diag/dead_fraction'] = 0.5
  row['diag/stem_act/dead_fraction'] = 0.0
  names = analysis.layer_names(row, order)
  assert names == acts
  # Sorted, the stem came last ('stage' < 'stem'): first/last were swapped.
  assert sorted(names)[-1] == 'stem_act'
  assert [analysis.pick_layer(names, p) for p in ('first', 'last')] == [
      'stem_act', 'stage3_block1/out_act']
  assert analysis.pick_layer([], 'first') is None
  with pytest.raises(ValueError, match='head_act1'):
    analysis.layer_names({'diag/head_act1/act_std': 0.0}, order)


def test_layer_stat_reads_the_requested_epoch(tmp_path):
  records.write_layers(str(tmp_path), ['dense10', 'act10', 'dense2', 'act2',
                                       'dense1', 'act1', 'logits'])
  rows = [{'epoch': 0, 'diag/act1/act_std': 1.0, 'diag/act2/act_std': 2.0,
           'diag/act10/act_std': 3.0},
          {'epoch': 1, 'diag/act1/act_std': 10.0, 'diag/act2/act_std': 20.0,
           'diag/act10/act_std': 30.0}]
  run = _fake_run(rows, tmp_path)
  # The written order, whatever the names say.
  assert analysis.layer_stat(run, 'act_std', 'first') == 3.0
  assert analysis.layer_stat(run, 'act_std', 'middle') == 2.0
  assert analysis.layer_stat(run, 'act_std', 'last', epoch=1) == 10.0
  assert analysis.layer_stat(run, 'act_std', 'first', epoch=5) is None
  assert analysis.layer_stat(_fake_run([{'epoch': 0}], tmp_path), 'act_std',
                             'first') is None
  # No layers.json and no config.json: no order, no answer (not a guess).
  assert analysis.layer_stat(_fake_run(rows), 'act_std', 'first') is None


def test_layer_order_rebuilt_from_config_json(tmp_path):
  """Runs without layers.json: the model is rebuilt from config.json (as
  the runner writes it: flattened, JSON types)."""
  config = tiny_config(**{'model.name': 'resnet', 'model.variant': 'resnet8',
                          'model.width_mult': 0.25})
  flat = records.jsonable(config_lib.flatten(config))
  flat = json.loads(json.dumps(flat))  # tuples -> lists, nan -> 'nan'
  order = _resnet_order()
  acts = [n for n in order if n.endswith('_act')]
  rows = [{'epoch': 0, **{f'diag/{n}/act_std': float(i)
                          for i, n in enumerate(acts)}}]
  run = _fake_run(rows, tmp_path, {'config': flat})
  assert analysis.run_layer_order(run) == order
  assert analysis.layer_stat(run, 'act_std', 'first') == 0.0
  assert analysis.layer_stat(run, 'act_std', 'last') == len(acts) - 1


def test_distinct_units_counts_copies():
  key = jax.random.PRNGKey(0)
  random = jax.random.normal(key, (50, 12))
  assert int(analysis.distinct_units(random)) == 12
  assert int(analysis.distinct_units(jnp.full((50, 12), -0.2))) == 1
  two = jnp.concatenate([jnp.tile(random[:, :1], (1, 5)),
                         jnp.tile(random[:, 1:2], (1, 7))], axis=1)
  assert int(analysis.distinct_units(two)) == 2
  # Rounding-level differences do not make a copy distinct.
  assert int(analysis.distinct_units(two + 1e-9 * random)) == 2
  conv = jax.random.normal(key, (3, 3, 1, 8))
  assert int(analysis.distinct_units(conv)) == 8
  assert float(analysis.unit_spread(jnp.full((50, 12), 0.3))) < 1e-6
  assert 0.8 < float(analysis.unit_spread(random)) < 1.2


def test_first_kernel_is_first_in_network_order():
  k = lambda v: {'kernel': jnp.full((2, 2), v), 'bias': jnp.zeros(2)}
  params = {'dense10': k(10.), 'dense2': k(2.), 'dense1': k(1.),
            'logits': k(0.)}
  order = ['dense1', 'act1', 'dense2', 'act2', 'dense10', 'logits']
  assert float(analysis.first_kernel(params, order)[0, 0]) == 1.0
  resnet = {'head_dense1': k(3.), 'stage1_block1': {'conv1': k(2.)},
            'stem': k(1.), 'logits': k(0.)}
  order = ['stem', 'stem_act', 'stage1_block1/conv1', 'head_dense1', 'logits']
  assert float(analysis.first_kernel(resnet, order)[0, 0]) == 1.0
  with pytest.raises(ConfigError):
    analysis.first_kernel({'norm': {'scale': jnp.ones(2)}}, ['norm'])


@pytest.mark.parametrize('variant', ['standard', 'spatial', 'alpha', 'classic',
                                     'locked', 'dropconnect'])
def test_dropped_fraction_is_the_rate(variant):
  key = jax.random.PRNGKey(3)
  for rate in (0.3, 0.5):
    frac = float(analysis.dropped_fraction(variant, rate, key))
    assert abs(frac - rate) < 0.015, (variant, rate, frac)
  assert float(analysis.dropped_fraction(variant, 0.0, key)) == 0.0
  assert float(analysis.dropped_fraction('none', 0.5, key)) == 0.0


def _model(name='mlp', **overrides):
  cfg = models.tiny_config(name)
  for k, v in overrides.items():
    cfg[k] = v
  shape = (8, 8, 1) if name == 'mlp' else (16, 16, 1)
  model = models.build_model(cfg, 10, shape)
  x = jax.random.normal(jax.random.PRNGKey(1), (32,) + shape)
  variables = model.init({'params': jax.random.PRNGKey(0)}, x, train=False)
  return model, variables, x


def test_dropout_apply_keeps_batchnorm_in_inference_mode():
  model, variables, x = _model(norm='batch')
  # Running averages far from this batch's statistics: using the batch's
  # own statistics (train mode) would change the output.
  variables = dict(variables, batch_stats=jax.tree_util.tree_map(
      lambda a: a + 0.5, variables['batch_stats']))
  key = jax.random.PRNGKey(2)
  inference = model.apply(variables, x, train=False, dropout_rate=0.0)
  np.testing.assert_array_equal(
      analysis.dropout_apply(model, variables, x, 0.0, key), inference)
  train_bn, _ = model.apply(variables, x, train=True, dropout_rate=0.0,
                            rngs={'dropout': key}, mutable=['batch_stats'])
  assert not np.allclose(train_bn, inference, atol=1e-3)
  stochastic = analysis.dropout_apply(model, variables, x, 0.5, key)
  assert not np.allclose(stochastic, inference, atol=1e-3)


def test_dropout_apply_drops_connections_for_dropconnect():
  model, variables, x = _model(dropout='dropconnect')
  key = jax.random.PRNGKey(2)
  inference = model.apply(variables, x, train=False, dropout_rate=0.5)
  np.testing.assert_allclose(
      analysis.dropout_apply(model, variables, x, 0.0, key), inference,
      rtol=1e-6, atol=1e-6)
  assert not np.allclose(analysis.dropout_apply(model, variables, x, 0.5, key),
                         inference, atol=1e-3)


def test_without_dropout_has_no_dropout_and_same_params():
  model, variables, x = _model(dropout='dropconnect')
  bare = analysis.without_dropout(model)
  key = jax.random.PRNGKey(2)
  np.testing.assert_allclose(
      bare.apply(variables, x, train=True, dropout_rate=0.9,
                 rngs={'dropout': key}),
      model.apply(variables, x, train=False, dropout_rate=0.9), rtol=1e-6,
      atol=1e-6)


def test_spatial_dropout_needs_feature_maps():
  with pytest.raises(ConfigError, match="model 'mlp'.*--model=cnn"):
    analysis.check_spatial_dropout(models.tiny_config('mlp'), (28, 28, 1))
  cfg = models.tiny_config('cnn')
  cfg.dropout = 'spatial'
  analysis.check_spatial_dropout(cfg, (28, 28, 1))


def test_mc_dropout_hook_rejects_no_samples():
  with pytest.raises(ConfigError, match='mc_samples=0'):
    analysis.mc_dropout_hook(0)


def test_dropout_hooks_on_a_grid(tmp_path):
  """Looped members (one chunk each) exercise the per-chunk path."""
  config = tiny_config(num_seeds=2, members='loop')
  hooks = [analysis.clean_train_accuracy_hook(num_examples=700,
                                              batch_size=300),
           analysis.drop_frequency_hook('standard'),
           analysis.logit_scale_hook,
           analysis.step_time_hook(num_steps=3, repeats=2),
           analysis.mc_dropout_hook(4)]
  results = runner.run(config, {'model.dropout_rate': [0.0, 0.3]},
                       str(tmp_path), out=QUIET, final_hooks=hooks)
  assert len(results) == 4
  for r in results:
    rate = 0.3 if r['trial'].endswith('0.3') else 0.0
    assert abs(r['drop_frequency'] - rate) < 0.01
    assert 0 <= r['clean_train_accuracy'] <= 1
    assert r['clean_train_loss'] > 0
    assert r['step_ms'] > 0 and r['step_ms_nodrop'] > 0
    assert r['step_time_ratio'] == pytest.approx(
        r['step_ms'] / r['step_ms_nodrop'])
    assert 0 <= r['mc_test_accuracy'] <= 1
    assert 0 <= r['mc_test_entropy'] <= math.log(10) + 1e-5
    assert r['logit_scale'] > 0
    if rate == 0:
      assert r['logit_scale'] == pytest.approx(1.0, rel=1e-5)
      # No unit dropped: every pass is the deterministic prediction.
      assert r['mc_test_accuracy'] == pytest.approx(r['test_accuracy'])
      assert r['mc_test_entropy'] == pytest.approx(r['test_entropy'],
                                                   rel=1e-4)


def test_constant_init_leaves_one_distinct_unit(tmp_path):
  config = tiny_config(epochs=1)
  results = runner.run(config, {'model.kernel_init': ['he_normal', 'constant']},
                       str(tmp_path), out=QUIET,
                       final_hooks=[analysis.distinct_units_hook])
  by_init = {r['trial'].split('=')[1]: r for r in results}
  assert by_init['he_normal']['distinct_units'] == config.model.width
  assert by_init['constant']['distinct_units'] == 1
  assert by_init['constant']['unit_spread'] < 1e-5


def test_unit_revival_follows_single_units(tmp_path):
  records.write_layers(str(tmp_path), ['dense2', 'act2', 'dense1', 'act1',
                                       'logits'])
  rows = [{'epoch': 0, 'diag/act1/dead_units': [0, 1, 1, 0],
           'diag/act2/dead_units': [0, 0]},
          {'epoch': 2, 'diag/act1/dead_units': [0, 0, 1, 0],
           'diag/act2/dead_units': [1, 0]},
          {'epoch': 1, 'diag/act1/dead_units': [1, 0, 1, 0],
           'diag/act2/dead_units': [0, 0]},
          {'epoch': 3},  # a row without diagnostics
          {'epoch': 4, 'val_loss': 'nan',  # diverged: masks of nan params
           'diag/act1/dead_units': [0, 0, 0, 0],
           'diag/act2/dead_units': [0, 0]}]
  out = analysis.unit_revival(_fake_run(rows, tmp_path))
  assert list(out) == ['act2', 'act1', 'all']
  # act1: unit 0 dies at 1 and revives at 2, unit 1 revives at 1, unit 2
  # stays dead, unit 3 never dies.
  assert out['act1'] == dict(units=4, ever_dead=3, revived=2, dead_end=1)
  assert out['act2'] == dict(units=2, ever_dead=1, revived=0, dead_end=1)
  assert out['all'] == dict(units=6, ever_dead=4, revived=2, dead_end=2)
  assert analysis.unit_revival(_fake_run([{'epoch': 0}], tmp_path)) is None


def test_unit_masks_logged_by_a_run(tmp_path):
  """diagnostics.unit_masks logs one 0/1 per unit and layer every epoch;
  off (the default), no run pays for it."""
  results = runner.run(tiny_config(epochs=1, diagnostics__every_epochs=1,
                                   diagnostics__unit_masks=True,
                                   optimizer__learning_rate=2.0), {},
                       str(tmp_path / 'on'), out=QUIET)
  rows = records.read_metrics(f'{results[0]["directory"]}/metrics.jsonl')
  assert [r['epoch'] for r in rows] == [0, 1]
  for row in rows:
    for layer in ('act1', 'act2'):
      mask = row[f'diag/{layer}/dead_units']
      assert len(mask) == 16 and set(mask) <= {0, 1}
      assert np.mean(mask) == pytest.approx(row[f'diag/{layer}/dead_fraction'])
  revival = analysis.unit_revival(report.load_runs(str(tmp_path / 'on'))[0])
  assert revival['all']['units'] == 32
  assert revival['all']['dead_end'] == sum(
      sum(rows[-1][f'diag/act{i}/dead_units']) for i in (1, 2))
  off = runner.run(tiny_config(epochs=1, diagnostics__every_epochs=1), {},
                   str(tmp_path / 'off'), out=QUIET)
  rows = records.read_metrics(f'{off[0]["directory"]}/metrics.jsonl')
  assert not any(k.endswith('/dead_units') for r in rows for k in r)


def test_layer_ratio_is_first_over_last_of_the_matching_layers(tmp_path):
  records.write_layers(str(tmp_path), ['dense1', 'norm1', 'act1', 'dense2',
                                       'norm2', 'act2', 'logits'])
  row = {'epoch': 0, 'diag/dense1/grad_norm': 1e-6, 'diag/norm1/grad_norm': 5.0,
         'diag/dense2/grad_norm': 0.5, 'diag/norm2/grad_norm': 7.0,
         'diag/logits/grad_norm': 2.0}
  run = _fake_run([row, {'epoch': 1, 'diag/dense1/grad_norm': 1.0,
                         'diag/dense2/grad_norm': 0.0}], tmp_path)
  assert analysis.layer_ratio(run, 'grad_norm', 0, r'dense\d+') == (
      pytest.approx(2e-6))
  assert analysis.layer_ratio(run, 'grad_norm', 0) == pytest.approx(5e-7)
  assert analysis.layer_ratio(run, 'grad_norm', 1, r'dense\d+') is None
  assert analysis.layer_ratio(run, 'grad_norm', 0, r'norm1') is None
  assert analysis.layer_ratio(run, 'grad_norm', 5) is None


def test_layer_stat_among_matching_layers(tmp_path):
  records.write_layers(str(tmp_path), ['dense1', 'norm1', 'dense2', 'norm2',
                                       'logits'])
  row = {'epoch': 0, 'diag/dense1/grad_norm': 1.0, 'diag/norm1/grad_norm': 2.0,
         'diag/dense2/grad_norm': 3.0, 'diag/norm2/grad_norm': 4.0,
         'diag/logits/grad_norm': 5.0}
  run = _fake_run([row], tmp_path)
  assert analysis.layer_stat(run, 'grad_norm', 'last') == 5.0
  assert analysis.layer_stat(run, 'grad_norm', 'last', 0, r'dense\d+') == 3.0
  assert analysis.layer_stat(run, 'grad_norm', 'first', 0, r'norm\d') == 2.0


def test_layer_values_in_network_order(tmp_path):
  records.write_layers(str(tmp_path), ['dense2', 'act2', 'dense1', 'act1',
                                       'logits'])
  row = {'epoch': 3, 'diag/act1/act_mean': 0.5, 'diag/act2/act_mean': -0.25,
         'diag/dense1/grad_norm': 1.0}
  run = _fake_run([{'epoch': 0}, row], tmp_path)
  assert analysis.layer_values(run, 'act_mean', 3) == [-0.25, 0.5]
  assert analysis.layer_values(run, 'act_mean', 3, r'act1') == [0.5]
  assert analysis.layer_values(run, 'act_mean', 0) == []
  assert analysis.layer_values(run, 'act_mean', 7) is None


def test_weight_moments_hook_reads_omega_and_tau_per_hidden_layer():
  import collections  # pylint: disable=g-import-not-at-top
  import types  # pylint: disable=g-import-not-at-top
  n, m = 16, 4
  signs = np.tile([1.0, -1.0], n * m // 2).reshape(n, m)
  normalized = signs / np.sqrt(n)  # omega 0, tau 1: in the domain
  shifted = np.full((n, m), 1.0 / n)  # omega 1: out of it
  params = {'dense1': {'kernel': np.stack([normalized, normalized])},
            'dense2': {'kernel': np.stack([normalized, shifted])},
            'logits': {'kernel': np.stack([shifted, shifted])}}  # not hidden
  # The initial weights (re-made from each member's seed): normalized.
  state = collections.namedtuple('State', 'params')  # a pytree, as jit needs
  init = lambda seed, sample: state({'dense1': {'kernel': normalized},
                                     'dense2': {'kernel': normalized}})
  ctx = types.SimpleNamespace(
      params=params, members=[types.SimpleNamespace(seed=s) for s in (0, 1)],
      steps=types.SimpleNamespace(init=init),
      data=types.SimpleNamespace(train_x=np.zeros((4, n), np.float32)))
  out = analysis.weight_moments_hook()(ctx)
  np.testing.assert_allclose(out['snn_domain_share'], [1.0, 0.5])
  np.testing.assert_allclose(out['omega_abs_max'], [0.0, 1.0], atol=1e-12)
  np.testing.assert_allclose(out['tau_dev_max'], [0.0, 1 - 1 / n],
                             atol=1e-12)
  np.testing.assert_allclose(out['snn_domain_share_init'], [1.0, 1.0])
  np.testing.assert_allclose(out['omega_abs_max_init'], [0.0, 0.0],
                             atol=1e-12)
