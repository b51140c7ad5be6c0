"""What dropout changes, counted (dlexp.analysis.dropout): the factor the
layer applies at test time, the matrix products of a train step with and
without dropout layers, and running a costly hook at some rates only."""
import copy
import dataclasses
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

from conftest import tiny_config
from dlexp.analysis import dropout as da
from dlexp.train import program


@pytest.mark.parametrize('variant,train,test', [
    ('standard', 1.0, 1.0),  # inverted: scaled up in training, not at test
    ('classic', 0.7, 0.7),  # original: unscaled in training, x(1-rate) at test
    ('dropconnect', 1.0, 1.0),
])
def test_mean_scales_at_rate_0_3(variant, train, test):
  got_train, got_test = da.mean_scales(variant, 0.3, jax.random.PRNGKey(0))
  assert float(got_train) == pytest.approx(train, abs=0.01)
  assert float(got_test) == pytest.approx(test, abs=1e-6)


def test_mean_scales_at_rate_0_is_exactly_one():
  got = da.mean_scales('standard', 0.0, jax.random.PRNGKey(1))
  assert [float(v) for v in got] == [1.0, 1.0]


def _steps(depth, rates):
  cfg = tiny_config()
  cfg.model.depth, cfg.model.width = depth, 8
  dataset = types.SimpleNamespace(num_classes=10, target_dim=0,
                                  input_shape=(8, 8, 1),
                                  train_y=np.zeros(256, np.int32))
  mesh = Mesh(np.array(jax.devices()[:1]), ('data',))
  return program.build(cfg, dataset, mesh, program.LeftOut(
      dropout=set(rates) == {0.0})).steps


@pytest.mark.parametrize('depth', [1, 3])
def test_dropout_adds_no_matrix_product_to_a_train_step(depth):
  """depth + 1 products forward, 2 (depth + 1) - 1 backward (no input
  gradient for the first layer), with dropout layers as without: dropout
  runs no second pass."""
  steps = _steps(depth, {0.0, 0.5})
  nodrop = copy.copy(steps)
  nodrop.model = da.without_dropout(steps.model)
  x, y = jnp.zeros((16, 8, 8, 1)), jnp.zeros((16,), jnp.int32)
  hp = {'model.dropout_rate': jnp.float32(0.5)}
  counts = []
  for s in (steps, nodrop):
    state = s.init(jnp.int32(0), x[:1])
    counts.append(da.matmul_count(
        da._train_step_program(s, state, hp, x, y)))  # pylint: disable=protected-access
  assert counts == [3 * (depth + 1) - 1] * 2


def test_matmul_count_counts_dots_and_convolutions():
  lowered = jax.jit(lambda a, k: jax.lax.conv_general_dilated(
      a @ a, k, (1, 1), 'SAME')).lower(jnp.ones((1, 1, 4, 4)),
                                       jnp.ones((1, 1, 3, 3)))
  assert da.matmul_count(lowered) == 2


@dataclasses.dataclass
class _Ctx:
  params: dict
  batch_stats: dict
  hp: dict
  members: list
  last_params: dict = None
  last_batch_stats: dict = None


def test_only_at_rates_runs_the_hook_on_those_members_and_fills_nan():
  seen = []

  def hook(ctx):
    seen.append((list(ctx.members), np.asarray(ctx.params['w']).tolist()))
    return {'cost': np.asarray(ctx.hp['model.dropout_rate']) * 10}

  ctx = _Ctx(params={'w': jnp.arange(4.0)}, batch_stats={},
             hp={'model.dropout_rate': jnp.asarray([0.0, 0.3, 0.5, 0.3])},
             members=['a', 'b', 'c', 'd'])
  out = da.only_at_rates(hook, [0.3])(ctx)
  assert seen == [(['b', 'd'], [1.0, 3.0])]
  np.testing.assert_allclose(out['cost'], [np.nan, 3.0, np.nan, 3.0])
  # No member at those rates: the hook is not run at all.
  assert da.only_at_rates(hook, [0.9])(ctx) == {} and len(seen) == 1
