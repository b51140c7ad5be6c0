"""dlexp.layers.conv: im2col convolution and slice-based max pooling compute
what flax's nn.Conv and nn.max_pool compute, values and gradients."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlexp.errors import ConfigError
from dlexp.layers.conv import Conv, MaxPool, max_pool, resolve_impl

# (input shape, kernel size, strides, padding, impl).
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
         ((2, 9, 8, 3), (3, 3), 2, 'SAME', 'xla'),
         ((2, 11, 3), (3,), 1, 'VALID', 'xla')]


@pytest.mark.parametrize('shape,kernel,strides,padding,impl', CASES)
def test_conv_matches_flax(shape, kernel, strides, padding, impl):
  x = jax.random.normal(jax.random.key(0), shape)
  ref = nn.Conv(4, kernel, strides=strides, padding=padding)
  ours = Conv(4, kernel, strides=strides, padding=padding, impl=impl)
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
  assert resolve_impl('im2col', 16) == 'im2col'
  with pytest.raises(ConfigError, match="conv_impl 'fast'"):
    resolve_impl('fast')
