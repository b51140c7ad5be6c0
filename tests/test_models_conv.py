"""dlexp.layers.conv: im2col convolution and slice-based max pooling compute
what flax's nn.Conv and nn.max_pool compute, values and gradients; so does a
whole CNN on its fast path, and with dlexp.xla_flags' compiler options."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlexp.errors import ConfigError
from dlexp import models, xla_flags
from dlexp.layers.conv import Conv, MaxPool, max_pool, resolve_impl

# (input shape, kernel size, strides, padding, impl[, use_bias]).
# One compile per case instead of one per primitive, without LLVM's expensive
# passes: each program runs once.
QUICK = {'xla_backend_optimization_level': 0,
         'xla_llvm_disable_expensive_passes': True}


def quick_jit(fn, *args):
  return jax.jit(fn).lower(*args).compile(compiler_options=QUICK)


CASES = [((2, 11, 3), (3,), 1, 'SAME', 'im2col'),
         ((2, 11, 3), (3,), 2, 'VALID', 'im2col'),
         ((2, 11, 3), (3,), 2, 'SAME', 'im2col'),
         ((2, 9, 8, 3), (3, 3), 1, 'SAME', 'im2col'),
         ((2, 9, 8, 3), (3, 3), 1, 'VALID', 'im2col'),
         ((2, 9, 8, 3), (3, 3), 2, 'SAME', 'im2col'),
         ((2, 9, 8, 3), (3, 3), 2, 'VALID', 'im2col'),
         ((2, 9, 8, 3), (3, 3), 2, 2, 'im2col'),
         ((2, 7, 7, 2), (5, 5), 2, 'SAME', 'im2col'),
         ((2, 7, 7, 2), (5, 5), 1, 'VALID', 'im2col'),
         ((2, 6, 7, 3), (1, 1), 2, 'VALID', 'im2col'),
         ((2, 9, 8, 1), (3, 3), 1, 'VALID', 'im2col', False),
         ((2, 9, 8, 3), (3, 3), 2, 'SAME', 'im2col', False),
         ((2, 9, 8, 3), (3, 3), 2, 'SAME', 'xla'),
         ((2, 11, 3), (3,), 1, 'VALID', 'xla')]


@pytest.mark.parametrize('shape,kernel,strides,padding,impl,use_bias',
                         [case + (True,) * (6 - len(case)) for case in CASES])
def test_conv_matches_flax(shape, kernel, strides, padding, impl, use_bias):
  x = jax.random.normal(jax.random.key(0), shape)
  ref = nn.Conv(4, kernel, strides=strides, padding=padding, use_bias=use_bias)
  ours = Conv(4, kernel, strides=strides, padding=padding, use_bias=use_bias,
              impl=impl)
  # Same parameter tree: flax's params load into ours unchanged.
  variables = jax.eval_shape(ref.init, jax.random.key(1), x)
  assert (jax.tree_util.tree_map(jnp.shape, variables) == jax.tree_util
          .tree_map(jnp.shape, jax.eval_shape(ours.init, jax.random.key(1), x)))
  keys = iter(jax.random.split(jax.random.key(1), 2))
  variables = jax.tree_util.tree_map(
      lambda s: jax.random.normal(next(keys), s.shape), variables)

  def values_and_grads(v, x):
    out = []
    for module in (ours, ref):
      loss = lambda v, x: jnp.sum(jnp.sin(module.apply(v, x)))
      out.append((module.apply(v, x), jax.grad(loss, argnums=(0, 1))(v, x)))
    return out

  (y_ours, g_ours), (y_ref, g_ref) = quick_jit(values_and_grads, variables,
                                               x)(variables, x)
  np.testing.assert_allclose(y_ours, y_ref, rtol=1e-5, atol=1e-5)
  for a, b in zip(jax.tree_util.tree_leaves(g_ours),
                  jax.tree_util.tree_leaves(g_ref)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_conv_int_kernel_size_follows_the_input_rank():
  for shape in [(2, 10, 3), (2, 10, 10, 3)]:
    variables = jax.eval_shape(Conv(5, 3).init, jax.random.key(0),
                               jnp.ones(shape))
    assert variables['params']['kernel'].shape == (3,) * (len(shape) - 2) + (
        3, 5)


@pytest.mark.parametrize('window,strides,padding', [
    (2, 2, 'VALID'), (2, 2, 'SAME'), (3, 2, 'VALID'), (3, 2, 'SAME'),
    (3, 1, 'SAME'), (3, 2, 1)])
@pytest.mark.parametrize('shape', [(2, 9, 3), (2, 7, 9, 3)], ids=['1d', '2d'])
def test_max_pool_matches_flax(shape, window, strides, padding):
  x = jax.random.normal(jax.random.key(0), shape)
  nd = len(shape) - 2
  pads = padding if isinstance(padding, str) else ((padding, padding),) * nd
  ref = lambda x: nn.max_pool(x, (window,) * nd, (strides,) * nd, pads)
  ours = lambda x: max_pool(x, window, strides, padding, impl='im2col')
  # No ties in random data, so the (sub)gradient is unique.
  both = lambda f, x: (f(x), jax.grad(lambda x: jnp.sum(f(x) ** 2))(x))
  (y_ours, g_ours), (y_ref, g_ref) = quick_jit(
      lambda x: (both(ours, x), both(ref, x)), x)(x)
  np.testing.assert_array_equal(y_ours, y_ref)
  np.testing.assert_allclose(g_ours, g_ref)


def test_max_pool_module_and_impl_names():
  x = jnp.arange(16.0).reshape(1, 4, 4, 1)
  out = MaxPool(2).apply({}, x)
  np.testing.assert_array_equal(out[0, :, :, 0], [[5, 7], [13, 15]])
  cpu = jax.default_backend() == 'cpu'
  assert resolve_impl('auto') == ('im2col' if cpu else 'xla')  # pooling
  assert resolve_impl('auto', 512) == ('im2col' if cpu else 'xla')
  assert resolve_impl('auto', 16) == 'xla'
  # A 3x3 conv on one channel (9 patch columns) vs on RGB (27).
  assert resolve_impl('auto', 1, (3, 3)) == ('im2col' if cpu else 'xla')
  assert resolve_impl('auto', 3, (3, 3)) == 'xla'
  assert resolve_impl('im2col', 16) == 'im2col'
  with pytest.raises(ConfigError, match="conv_impl 'fast'"):
    resolve_impl('fast')


def _cnn_loss_and_grads(conv_impl, options):
  """Loss and gradients of the tiny CNN at fixed parameters (drawn from the
  same key: the parameter trees of all paths are identical)."""
  cfg = models.tiny_config('cnn')
  cfg.conv_impl = conv_impl
  model = models.build_model(cfg, 10, (12, 12, 1))
  x = jax.random.normal(jax.random.key(0), (4, 12, 12, 1))
  y = jnp.arange(4) % 10
  params = model.init(jax.random.key(1), x, train=False)['params']

  def loss(params):
    logits = model.apply({'params': params}, x, train=False)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits),
                                         y[:, None], axis=1))
  fn = jax.jit(jax.value_and_grad(loss)).lower(params)
  return fn.compile(dict(QUICK, **options))(params)


def test_cnn_fast_path_and_compiler_options_match_the_plain_path():
  """'xla' is the plain path (lax conv, nn.max_pool); 'auto' on CPU takes
  im2col for the first conv and slice pooling; the compiler options switch
  the native conv from YNNPACK to XLA's own."""
  ref_loss, ref_grads = _cnn_loss_and_grads('xla', {})
  for impl, options in [('auto', {}), ('auto', xla_flags.compiler_options()),
                        ('xla', xla_flags.compiler_options())]:
    loss, grads = _cnn_loss_and_grads(impl, options)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(grads),
                    jax.tree_util.tree_leaves(ref_grads)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
