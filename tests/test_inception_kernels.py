"""model.inception_kernels (one kernel size per Inception module, its
parameters matched to the parallel module's) and model.activation inside
AlexNet's convs: the two model options experiments/cnn_families.py's
ReLU-vs-tanh and kernel-size claims rest on."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlexp import claims, findings, report
from dlexp.errors import ConfigError
from dlexp.models import build_model, config as model_config, defaults
from dlexp.models.inception import InceptionModule, single_size_reduce
from dlexp.models.summary import trace

CH = dict(c1=8, c3_reduce=6, c3=12, c5_reduce=2, c5=4, pool_proj=5)


def cfg(**kw):
  c = defaults()
  c.update(kw)
  return c


def conv(k, cin, cout, dims, per_channel):
  return k ** dims * cin * cout + per_channel * cout


def module_params(kernel_size, x, norm):
  parts = build_model(cfg(name='inception', variant='mini', norm=norm), 10,
                      (32, 32, 3)).parts
  module = InceptionModule(parts, **CH, kernel_size=kernel_size)
  out, v = jax.eval_shape(lambda x: module.init_with_output(
      jax.random.key(0), x, train=False), x)
  return out.shape, sum(math.prod(a.shape)
                        for a in jax.tree_util.tree_leaves(v.get('params')))


@pytest.mark.parametrize('shape', [(2, 8, 8, 48), (2, 10, 48)])
@pytest.mark.parametrize('norm, per_channel', [('none', 1), ('batch', 2)])
def test_single_size_modules_match_the_parallel_parameters(shape, norm,
                                                           per_channel):
  """One 1x1 (r) -> kxk (c1 + c3 + c5) branch: the same output shape as the
  parallel module, its parameters the closed form, within one reduce
  channel's worth of the parallel module's."""
  cin, dims, out = shape[-1], len(shape) - 2, 8 + 12 + 4
  x = jnp.ones(shape)
  pool = conv(1, cin, 5, dims, per_channel)
  p = lambda k, i, o: conv(k, i, o, dims, per_channel)
  want_shape, parallel = module_params(0, x, norm)
  assert want_shape == shape[:-1] + (out + 5,)
  assert parallel == (p(1, cin, 8) + p(1, cin, 6) + p(3, 6, 12) + p(1, cin, 2)
                      + p(5, 2, 4) + pool)
  reduces = {}
  for k in (1, 3, 5, 7):
    got_shape, got = module_params(k, x, norm)
    r = single_size_reduce(k, cin, **{n: v for n, v in CH.items()
                                      if n != 'pool_proj'},
                           dims=dims, per_channel=per_channel)
    reduces[k] = r
    assert got_shape == want_shape
    assert got == p(1, cin, r) + p(k, r, out) + pool
    # Rounding r to an integer moves the count by at most half a channel.
    assert abs(got - parallel) <= (cin + per_channel + k ** dims * out) / 2
  # A larger kernel costs more per reduce channel: fewer of them.
  assert reduces[1] > reduces[3] > reduces[5] >= reduces[7] >= 1


def test_single_size_nets_keep_the_network_around_the_modules():
  """Inception-mini with every module at 3x3: the stem, the head and the
  parameter tree outside the modules are the parallel net's; every module
  holds just its one branch and the pool projection."""
  shape = (40, 1)
  trees = {k: trace(build_model(cfg(name='inception', variant='mini',
                                    width_mult=0.25, inception_kernels=k),
                                10, shape), shape)[0]['params']
           for k in ((1, 3, 5), (3,))}
  outside = lambda t: {n: jax.tree_util.tree_map(jnp.shape, v)
                       for n, v in t.items() if not n.startswith('inception')}
  assert outside(trees[(1, 3, 5)]) == outside(trees[(3,)])
  assert set(trees[(3,)]['inception3a']) == {
      'b3x3_reduce', 'b3x3', 'b3x3_reduce_bn', 'b3x3_bn', 'bpool_proj',
      'bpool_proj_bn'}
  count = lambda t: sum(math.prod(a.shape)
                        for a in jax.tree_util.tree_leaves(t))
  assert count(trees[(3,)]) == pytest.approx(count(trees[(1, 3, 5)]),
                                             rel=0.02)


@pytest.mark.parametrize('overrides, message', [
    (dict(name='inception', inception_kernels=(3, 5)), r'need \(1, 3, 5\)'),
    (dict(name='inception', inception_kernels=(4,)), r'one odd size'),
    (dict(name='inception', inception_kernels=(0,)), r'one odd size'),
    (dict(name='inception', inception_kernels=()), r'one odd size'),
    (dict(name='alexnet', inception_kernels=(3,)), r'inception modules only'),
    (dict(name='inception', inception_kernels=(3,), bottleneck=False),
     r'needs model.bottleneck=True'),
])
def test_bad_inception_kernels_are_one_line_errors(overrides, message):
  with pytest.raises(ConfigError, match=message) as e:
    model_config.validate(cfg(**overrides))
  assert '\n' not in str(e.value)


def test_activation_reaches_every_alexnet_conv():
  """model.activation is what follows each of AlexNet's five convs (no norm
  between them): tanh of the conv's output, for tanh and ReLU alike."""
  x = jax.random.normal(jax.random.key(0), (2, 40, 1))
  for name, fn in (('tanh', jnp.tanh), ('relu', jax.nn.relu)):
    model = build_model(cfg(name='alexnet', width_mult=0.0625,
                            activation=name), 10, (40, 1))
    v = model.init(jax.random.key(1), x, train=False)
    _, state = model.apply(v, x, train=False, capture_intermediates=True,
                           mutable=['intermediates'])
    inter = state['intermediates']
    for i in range(1, 6):
      (conv_out,), (act_out,) = (inter[f'conv{i}']['__call__'],
                                 inter[f'conv{i}_act']['__call__'])
      np.testing.assert_allclose(act_out, fn(conv_out), rtol=1e-6, atol=1e-6)
    if name == 'tanh':
      assert float(jnp.max(jnp.abs(act_out))) < 1.0


# -- the claims that rest on these options (experiments/cnn_families.py) ------

def _script():
  return findings.load_script('cnn_families')


def _verdict(index, case):
  from fabricated import cnn_families  # pylint: disable=g-import-not-at-top
  (got,) = claims.evaluate([_script().CLAIMS[index]],
                           cnn_families.CASES[index][case])
  return got


@pytest.mark.parametrize('index, case, message', [
    (3, 'edge', "fastest rate lies inside the swept rates"),
    (4, 'unmatched', 'parameters matched'),
    (4, 'at_chance', 'train above chance'),
])
def test_each_precondition_can_fail(index, case, message):
  got = _verdict(index, case)
  assert got['verdict'] == 'inconclusive'
  assert got['evidence'].startswith('regime not reached') and (
      message in got['evidence']), got['evidence']


def test_the_best_single_size_is_picked_by_validation():
  """Validation picks size 5 (test 0.930): the parallel net's 0.932 is not
  worse; against size 3's test 0.944 (the pick by test) it would be."""
  got = _verdict(4, 'picked_by_validation')
  assert 'one kernel size 5 (best by validation)' in got['evidence']
  assert got['verdict'] == 'supported'


def _run(rows):
  return report.Run('', {}, {}, _metrics=[dict(r, epoch=e) for e, r in
                                          enumerate(rows)])


def test_steps_to_training_error_read_at_epoch_middles():
  """28 steps an epoch: the epoch means 0.6 and 0.8 sit at steps 14 and 42;
  0.75 is crossed three quarters of the way: step 35. Never crossing, or a
  non-finite loss first, gives no value."""
  steps = _script().STEPS.value
  epochs = [dict(step=0), dict(step=28, train_accuracy=0.6),
            dict(step=56, train_accuracy=0.8)]
  assert steps(_run(epochs)) == pytest.approx(35.0)
  assert steps(_run(epochs[:2])) is None
  assert steps(_run([dict(step=0), dict(step=28, train_accuracy=0.9)])) == 14
  assert steps(_run([dict(step=0), dict(step=28, train_accuracy=math.nan),
                     dict(step=56, train_accuracy=0.9)])) is None
