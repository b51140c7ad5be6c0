"""dlexp.analysis.ablation against hand-computed drops on a hand-built head,
and experiments/overfitting_remedies.py at its smoke size from the command
line."""
import glob
import json
import os
import types

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_one_line_error, run_script, tiny_config
from dlexp import analysis, claims, findings
from dlexp import config as config_lib
from dlexp.errors import ConfigError
from dlexp.train import runner
from dlexp.train.device_data import DeviceData


class Head(nn.Module):
  """Features = the input itself (3 units), then a dense 'logits' layer;
  `scale` != 1 breaks logits = h W + b (as classic dropout would)."""
  scale: float = 1.0

  @nn.compact
  def __call__(self, x, *, train, dropout_rate=0.0):
    self.sow('intermediates', 'features', x)
    return nn.Dense(2, name='logits')(self.scale * x)


# Class 1 iff h . (1, 1, 0) > 0.5 (W's columns (0, v), bias (0, -0.5)).
W = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 0.0]], np.float32)
B = np.array([0.0, -0.5], np.float32)
# Test: all four right. Zeroing unit 0 loses the first (score 1 -> -1),
# unit 1 the fourth (-1 -> 1), unit 2 (weight 0) nothing; units 0 and 1
# together leave score 0 < 0.5 everywhere: the two class-1 examples lost.
TEST_H = [[2, -1, 0], [1, 1, 5], [-1, -1, 0], [1, -2, 0]]
TEST_Y = [1, 1, 0, 0]
# Validation ranks unit 0 first (zeroing it loses both of its examples),
# then unit 1 (loses one), then unit 2.
VAL_H = [[2, -1, 0], [3, -1, 0], [1, -2, 0], [1, 1, 0]]
VAL_Y = [1, 1, 0, 1]


TRIAL = types.SimpleNamespace(config=config_lib.default_config())


def split(h, y):
  """One batch of 5: the examples plus one padded (weight 0) that every
  ablation gets wrong, so it counts only if padding leaks in."""
  x = np.array(h + [[-9, -9, 0]], np.float32)[None]
  return (jnp.asarray(x), jnp.asarray(np.array(y + [1])[None]),
          jnp.asarray(np.array([1.0] * len(y) + [0.0], np.float32)[None]))


def context(scale=1.0, seeds=(0,)):
  params = {'logits': {'kernel': jnp.asarray(np.stack([W] * len(seeds))),
                       'bias': jnp.asarray(np.stack([B] * len(seeds)))}}
  val, test = split(VAL_H, VAL_Y), split(TEST_H, TEST_Y)
  data = DeviceData(train_x=test[0][0], train_y=test[1][0], val=val,
                    test=test, probe_x=val[0][0], probe_y=val[1][0])
  return runner.FinalContext(
      Head(scale), None, params, {}, {}, data,
      [types.SimpleNamespace(seed=s, trial=TRIAL) for s in seeds])


def test_unit_ablation_matches_the_hand_computation():
  out = analysis.unit_ablation_hook(fraction=0.5, draws=4)(context())
  assert out['ablation_units'][0] == 3 and out['ablation_k'][0] == 2
  assert out['ablation_clean_accuracy'][0] == pytest.approx(1.0)
  assert out['ablation_top1_drop'][0] == pytest.approx(0.25)  # unit 0
  assert out['ablation_top_drop'][0] == pytest.approx(0.5)  # units 0, 1
  assert out['ablation_unit_mean_drop'][0] == pytest.approx(0.5 / 3)
  assert out['ablation_unit_max_drop'][0] == pytest.approx(0.25)
  # Any two of three units: {0,1} loses 0.5, {0,2} 0.25, {1,2} 0.25.
  assert 0.25 <= out['ablation_random_drop'][0] <= 0.5


def test_random_ablation_averages_the_drawn_sets():
  # k = 1 random unit, many draws: the mean of the single-unit drops, 1/6.
  out = analysis.unit_ablation_hook(fraction=0.2, draws=600)(
      context(seeds=(0, 1)))
  assert out['ablation_k'].tolist() == [1, 1]
  np.testing.assert_allclose(out['ablation_random_drop'], 1 / 6, atol=0.03)
  # Each member draws its own units (its seed's analysis key).
  assert out['ablation_random_drop'][0] != out['ablation_random_drop'][1]


def test_random_ablation_takes_its_own_fraction():
  # k = 1 for the top-k, k = 2 random units (any two of three: their mean
  # drop over the three pairs is (0.5 + 0.25 + 0.25) / 3).
  out = analysis.unit_ablation_hook(fraction=0.2, draws=600,
                                    random_fraction=0.6)(context())
  assert out['ablation_k'][0] == 1 and out['ablation_random_k'][0] == 2
  assert out['ablation_top_drop'][0] == pytest.approx(0.25)
  np.testing.assert_allclose(out['ablation_random_drop'], 1 / 3, atol=0.03)
  with pytest.raises(ConfigError, match='random_fraction=1.5'):
    analysis.unit_ablation_hook(random_fraction=1.5)


def test_unit_ablation_refuses_a_head_it_cannot_read():
  with pytest.raises(ConfigError, match='features @ W'):
    analysis.unit_ablation_hook()(context(scale=0.5))
  for bad in (dict(fraction=0.0), dict(fraction=1.0), dict(draws=0)):
    with pytest.raises(ConfigError):
      analysis.unit_ablation_hook(**bad)


def test_weight_size_is_one_without_training_and_shrinks_with_l2(tmp_path):
  config = tiny_config(epochs=2, optimizer__learning_rate=0.2)
  results = runner.run(config, {'reg.l2': [0.0, 5.0]}, str(tmp_path),
                       out=runner.Printer(quiet=True),
                       final_hooks=[analysis.weight_size_hook()])
  by = {r['trial']: r for r in results}
  # A strong penalty (the kernel decays by 1 - lr * l2 = 0 per step before
  # momentum) leaves the first kernel far below its initial size.
  assert by['l2=5']['weight_rms_ratio'] < 0.5
  assert by['l2=0']['weight_rms_ratio'] > 0.5
  zero = runner.run(tiny_config(epochs=1, optimizer__learning_rate=1e-30),
                    {'reg.l2': [0.0]}, str(tmp_path / 'lr0'),
                    out=runner.Printer(quiet=True),
                    final_hooks=[analysis.weight_size_hook()])
  # Learning rate 1e-30: the final kernel is the seed's initial one (a
  # re-initialization from another key would be off by ~2%: 1,024 weights).
  assert zero[0]['weight_rms_ratio'] == pytest.approx(1.0, abs=1e-7)
  assert zero[0]['weight_max_ratio'] == pytest.approx(1.0, abs=1e-7)


def test_overfitting_remedies_smoke(tmp_path):
  workdir = str(tmp_path / 'runs')
  proc = run_script('overfitting_remedies', '--smoke', f'--workdir={workdir}')
  assert proc.returncode == 0, proc.stderr[-3000:]
  (path,) = glob.glob(os.path.join(workdir, 'findings', '*.json'))
  with open(path) as f:
    record = json.load(f)
  assert record['size'] == 'smoke'
  assert len(record['claims']) == 7
  assert all(c['verdict'] != 'error' for c in record['claims']), record
  trials = record['evidence']['trials']
  assert len(trials) == 3
  for row in trials.values():
    cols = row['columns']
    for drop in ('top-1 drop', 'top-k drop', 'random-k drop'):
      assert all(-0.2 <= v <= 1 for v in cols[drop]), (drop, cols[drop])
    assert all(0 < v for v in cols['w1 RMS/init'])
  # Two smoke epochs reach no regime; the rules themselves still run on the
  # recorded evidence and give verdicts, not errors.
  evidence = claims.from_record(record['evidence'])
  for claim in findings.load_script('overfitting_remedies').CLAIMS:
    assert claim.rule(evidence).verdict in claims.VERDICTS


@pytest.mark.parametrize('args, message', [
    (['--l2=0'], r'--l2=0.0: the L2 arm needs a penalty > 0'),
    (['--rate=1'], r'--rate=1.0: the dropout arm needs 0 < rate < 1'),
    (['--config.reg.l2=0.1'], r'overridden by the ablated axis.*--l2'),
    (['--model=cnn'], r'--model=cnn: the weight and ablation columns'),
])
def test_overfitting_remedies_bad_input(tmp_path, args, message):
  proc = run_script('overfitting_remedies', '--smoke',
                    f'--workdir={tmp_path}', *args)
  assert_one_line_error(proc, message)
