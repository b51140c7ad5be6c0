"""Convolution and max pooling that train fast on XLA-CPU.

XLA-CPU spends most of a CNN's training step in the convolution backward pass
and in max pooling's backward (select_and_scatter). Two rewrites avoid both:

- im2col: pad, take the kh*kw shifted (strided) views of the input, concatenate
  them along channels and do one matmul with the kernel reshaped to
  (kh*kw*cin, cout). Its gradient is slices, pads and one matmul, all of which
  XLA-CPU runs well.
- pooling without select_and_scatter: a non-overlapping window (window ==
  stride) is a reshape then max; an overlapping one (AlexNet's 3x3 stride 2) is
  an elementwise max of the shifted strided views.

impl 'auto' picks these on CPU and the native lax ops on GPU/TPU, where cuDNN
and friends are faster. Both paths compute the same function (tested).
Layouts are channels-last with any number of spatial axes: images (N, H, W, C)
and sequences (N, L, C).
"""
import itertools
import math
from typing import Callable, Sequence, Tuple, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from dlexp.errors import ConfigError

CONV_IMPLS = ('auto', 'xla', 'im2col')
Padding = Union[str, int, Sequence[Tuple[int, int]]]


def resolve_impl(impl: str) -> str:
  """'xla' or 'im2col' for `impl`; 'auto' is im2col on CPU only."""
  if impl not in CONV_IMPLS:
    raise ConfigError(f'conv_impl {impl!r} not allowed; allowed: '
                      f'{", ".join(CONV_IMPLS)}')
  if impl == 'auto':
    return 'im2col' if jax.default_backend() == 'cpu' else 'xla'
  return impl


def _tuple(value, nd: int, what: str) -> Tuple[int, ...]:
  if isinstance(value, int):
    return (value,) * nd
  value = tuple(int(v) for v in value)
  if len(value) != nd:
    raise ValueError(f'{what}={value} has {len(value)} entries for {nd} '
                     'spatial axes')
  return value


def _pads(padding: Padding, sizes, window, strides) -> Tuple[Tuple[int, int], ...]:
  """Explicit (low, high) pads per spatial axis, as lax computes them."""
  if isinstance(padding, str):
    if padding not in ('SAME', 'VALID'):
      raise ValueError(f'padding {padding!r}; allowed: SAME, VALID, int, pairs')
    return tuple(lax.padtype_to_pads(sizes, window, strides, padding))
  if isinstance(padding, int):
    return ((padding, padding),) * len(sizes)
  return tuple((int(lo), int(hi)) for lo, hi in padding)


def _shifted_views(x, window, strides, out_sizes):
  """The prod(window) views x[:, i::s, j::s, ..., :] cut to the output size."""
  for offsets in itertools.product(*(range(k) for k in window)):
    start = (0,) + offsets + (0,)
    limit = ((x.shape[0],)
             + tuple(o + (n - 1) * s + 1
                     for o, n, s in zip(offsets, out_sizes, strides))
             + (x.shape[-1],))
    yield lax.slice(x, start, limit, (1,) + tuple(strides) + (1,))


def _out_sizes(padded_sizes, window, strides):
  return tuple((n - k) // s + 1 for n, k, s in zip(padded_sizes, window, strides))


def conv_im2col(x, kernel, strides, pads):
  """Convolution (cross-correlation, like lax) as shifted views + one matmul."""
  nd = kernel.ndim - 2
  window = kernel.shape[:nd]
  x = jnp.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),))
  out_sizes = _out_sizes(x.shape[1:-1], window, strides)
  views = list(_shifted_views(x, window, strides, out_sizes))
  # Channel order (offset, cin) matches the kernel's row-major (kh, kw, cin).
  patches = views[0] if len(views) == 1 else jnp.concatenate(views, axis=-1)
  return jnp.dot(patches, kernel.reshape(-1, kernel.shape[-1]))


def conv_xla(x, kernel, strides, pads):
  """The native convolution (cuDNN on GPU)."""
  spatial = 'HWD'[:kernel.ndim - 2]
  dims = ('N' + spatial + 'C', spatial + 'IO', 'N' + spatial + 'C')
  return lax.conv_general_dilated(x, kernel, tuple(strides), tuple(pads),
                                  dimension_numbers=dims)


def _quick_compiling(init: Callable) -> Callable:
  """`init` drawing with the classic (non-partitionable) threefry.

  With jax_threefry_partitionable on (jax's default), a random draw over a 4-D
  kernel shape measured ~5x slower to compile on XLA-CPU than over a flat one
  (~1.5 s per conv kernel: a ResNet's init took minutes). The classic
  generator compiles like the flat draw. The values differ from the
  partitionable ones but come from the same distribution; params here are
  replicated, so partitioned generation buys nothing.
  """
  def draw(key, shape, dtype=jnp.float32):
    with jax.threefry_partitionable(False):
      return init(key, shape, dtype)
  return draw


class Conv(nn.Module):
  """Convolution over the spatial axes of (N, ..., C) inputs.

  Parameters match flax's nn.Conv: 'kernel' (*kernel_size, cin, cout) and
  'bias' (cout,), so parameter counts and trees are those of nn.Conv. An int
  kernel_size/strides is repeated over however many spatial axes the input has,
  so one layer definition serves images and sequences.
  """
  features: int
  kernel_size: Union[int, Sequence[int]] = 3
  strides: Union[int, Sequence[int]] = 1
  padding: Padding = 'SAME'
  use_bias: bool = True
  kernel_init: Callable = jax.nn.initializers.lecun_normal()
  bias_init: Callable = jax.nn.initializers.zeros
  impl: str = 'auto'

  @nn.compact
  def __call__(self, x):
    nd = x.ndim - 2
    if nd < 1:
      raise ValueError(f'Conv needs (N, ..., C) input, got shape {x.shape}')
    window = _tuple(self.kernel_size, nd, 'kernel_size')
    strides = _tuple(self.strides, nd, 'strides')
    kernel = self.param('kernel', _quick_compiling(self.kernel_init),
                        window + (x.shape[-1], self.features), jnp.float32)
    pads = _pads(self.padding, x.shape[1:-1], window, strides)
    kernel = kernel.astype(x.dtype)
    if resolve_impl(self.impl) == 'im2col':
      y = conv_im2col(x, kernel, strides, pads)
    else:
      y = conv_xla(x, kernel, strides, pads)
    if self.use_bias:
      bias = self.param('bias', self.bias_init, (self.features,), jnp.float32)
      y = y + bias.astype(y.dtype)
    return y


def max_pool(x, window: Union[int, Sequence[int]],
             strides: Union[int, Sequence[int], None] = None,
             padding: Padding = 'VALID', impl: str = 'auto'):
  """Max pooling over the spatial axes of (N, ..., C); strides default window.

  Padding pads with -inf, like nn.max_pool, so padded cells never win.
  """
  nd = x.ndim - 2
  window = _tuple(window, nd, 'window')
  strides = window if strides is None else _tuple(strides, nd, 'strides')
  pads = _pads(padding, x.shape[1:-1], window, strides)
  if resolve_impl(impl) == 'xla':
    return nn.max_pool(x, window, strides, pads)
  if any(lo or hi for lo, hi in pads):
    x = jnp.pad(x, ((0, 0),) + pads + ((0, 0),), constant_values=-jnp.inf)
  out_sizes = _out_sizes(x.shape[1:-1], window, strides)
  # An elementwise max of the shifted strided views, for any window. Its
  # backward is a few selects; a reshape-then-max (for window == stride)
  # measured 6x slower on XLA-CPU (reduce_max's tie-splitting JVP), and
  # select_and_scatter 30x slower.
  views = _shifted_views(x, window, strides, out_sizes)
  out = next(views)
  for view in views:
    out = jnp.maximum(out, view)
  return out


class MaxPool(nn.Module):
  """max_pool as a parameter-free module, so it shows in model summaries."""
  window: Union[int, Sequence[int]] = 2
  strides: Union[int, Sequence[int], None] = None
  padding: Padding = 'VALID'
  impl: str = 'auto'

  def __call__(self, x):
    return max_pool(x, self.window, self.strides, self.padding, self.impl)


def conv_output_size(size: int, window: int, stride: int,
                     padding: str) -> int:
  """Output length of one spatial axis (SAME: ceil(size / stride))."""
  if padding == 'SAME':
    return math.ceil(size / stride)
  return (size - window) // stride + 1
