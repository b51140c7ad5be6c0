"""train.lr_scale_params / train.lr_scale: a slower learning rate for some
parameters (fine-tuning a base under a new head), traced per grid member."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import tiny_config
import dlexp
from dlexp import config as config_lib
from dlexp import optim
from dlexp import grid as grid_lib
from dlexp.errors import ConfigError
from dlexp.train import runner

QUIET = runner.Printer(quiet=True)
PARAMS = {'dense1': {'kernel': jnp.full((3, 2), 0.5), 'bias': jnp.zeros(2)},
          'logits': {'kernel': jnp.full((2, 4), -0.5)}}


def _updates(name, steps, decay, **train):
  """The updates of `steps` optimizer steps with constant gradients."""
  c = tiny_config(optimizer__name=name, optimizer__weight_decay=decay)
  for key, value in train.items():
    config_lib.set_value(c, f'train.{key}', value)
  opt = optim.make_optimizer(c, steps_per_epoch=10)
  state, params, out = opt.init(PARAMS), PARAMS, []
  grads = jax.tree_util.tree_map(lambda p: jnp.ones_like(p) * 0.3, PARAMS)
  hp = {'train.lr_scale': jnp.float32(c.train.lr_scale)}
  for step in range(steps):
    updates, state = opt.update(grads, state, params, hp, step)
    params = jax.tree_util.tree_map(jnp.add, params, updates)
    out.append(updates)
  return out


@pytest.mark.parametrize('name', ['sgd', 'adam', 'rmsprop'])
def test_scaled_parameters_take_scaled_steps(name):
  """The rate multiplies the finished direction (decoupled decay included:
  the first step from equal parameters), so the scaled layer's update is
  lr_scale times the unscaled one, step after step while the direction
  depends on the gradients only; other layers are untouched."""
  for steps, decay in ((1, 0.01), (3, 0.0)):
    base = _updates(name, steps, decay)
    slow = _updates(name, steps, decay, lr_scale_params=('dense1',),
                    lr_scale=0.1)
    _check(base, slow)


def _check(base, slow):
  for b, s in zip(base, slow):
    for leaf in ('kernel', 'bias'):
      np.testing.assert_allclose(s['dense1'][leaf], 0.1 * b['dense1'][leaf],
                                 rtol=1e-6)
    np.testing.assert_array_equal(s['logits']['kernel'],
                                  b['logits']['kernel'])
    assert np.abs(np.asarray(b['dense1']['kernel'])).min() > 0


def test_lr_scale_is_traced_one_program_per_grid(tmp_path):
  """A grid over train.lr_scale is one group; scale 1 on every parameter is
  the unscaled run, scale 0.5 on every parameter is lr / 2."""
  c = tiny_config(epochs=1, train__lr_scale_params=('.*',))
  axes = {'train.lr_scale': [1.0, 0.5]}
  assert len(grid_lib.group_trials(grid_lib.make_trials(c, axes))) == 1
  scaled = runner.run(c, axes, str(tmp_path / 'scaled'), out=QUIET)
  plain = tiny_config(epochs=1)
  lrs = {'optimizer.learning_rate': [0.05, 0.025]}
  unscaled = runner.run(plain, lrs, str(tmp_path / 'plain'), out=QUIET)
  for s, u in zip(scaled, unscaled):
    ps = dlexp.load(s['directory']).params()
    pu = dlexp.load(u['directory']).params()
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(
        a, b, rtol=2e-4, atol=1e-6), ps, pu)


@pytest.mark.parametrize('train, message', [
    (dict(lr_scale=0.1), r'train.lr_scale=0.1 needs train.lr_scale_params'),
    (dict(lr_scale=0.0, lr_scale_params=('.*',)),
     r'train.lr_scale=0.0 must be a finite float > 0'),
    (dict(lr_scale_params=('dense9',), lr_scale=0.1),
     r"train.lr_scale_params pattern 'dense9' matches no parameter"),
])
def test_one_line_errors_before_anything_is_written(tmp_path, train,
                                                    message):
  c = tiny_config()
  workdir = tmp_path / 'never'
  with pytest.raises(ConfigError, match=message) as e:
    for key, value in train.items():
      config_lib.set_value(c, f'train.{key}', value)
    runner.run(c, {}, str(workdir), out=QUIET)
  assert '\n' not in str(e.value)
  assert not workdir.exists()
