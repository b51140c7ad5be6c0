"""Convolution and max pooling that train fast on XLA-CPU.

On XLA-CPU a naive CNN step is dominated by max pooling's backward
(select_and_scatter), by convolution kernel gradients, and on wide layers by
the native convolution. Here:

- max_pool is an elementwise max of the window's shifted strided views, for
  any window (2x2 stride 2, AlexNet's overlapping 3x3 stride 2, inception's
  3x3 stride 1). Its backward is a few selects: for a 2x2 pool of
  (128, 26, 26, 32) the gradient took 3.5 ms against 116 ms for nn.max_pool
  and 23 ms for a reshape-then-max (whose reduce_max JVP splits ties). A
  custom-VJP max over non-overlapping tiles (reshape, no strided slices)
  measured slower in whole CNN and VGG steps, so there is one path.
- Conv with impl 'im2col' pads, concatenates the kh*kw shifted views along
  channels (plus a column of ones for the bias) and does one matmul with the
  kernel and bias as rows of a (kh*kw*cin [+1], cout) matrix. Its gradients
  are written out (conv_im2col): kernel and bias in one matmul with the
  saved patch matrix, the input through the transposed patch extraction.
- The native conv is compiled with dlexp.xla_flags.compiler_options() by the
  engine: XLA's own convolution rather than YNNPACK's, whose kernel gradient
  is slow on XLA:CPU.

impl 'auto' picks per layer (see resolve_impl): the native lax conv off CPU
(cuDNN); on CPU im2col for narrow patch matrices (a 3x3 conv on a grayscale
image) and wide inputs, the native conv otherwise; slice pooling on CPU.
'xla' and 'im2col' force one path. Both compute the same function, values
and gradients (tests/test_models_conv.py); benchmarks/bench_conv.py and
benchmarks/bench_models.py measure them. Layouts are channels-last with any
number of spatial axes: images (N, H, W, C) and sequences (N, L, C).
"""
import functools
import itertools
from typing import Callable, Sequence, Tuple, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from dlexp.errors import ConfigError

CONV_IMPLS = ('auto', 'xla', 'im2col')
Padding = Union[str, int, Sequence[Tuple[int, int]]]


# 'auto' on CPU, measured on full training steps (2-core XLA-CPU,
# benchmarks/README.md). im2col from IM2COL_MIN_CHANNELS input channels up:
# the native conv is pathologically slow on wide layers over small maps
# (VGG11 on 32x32: 5 vs 67 examples/s), while on narrow layers over large
# maps im2col's kh*kw times larger patch tensor costs more than it saves
# (ResNet-20, 16-64 channels: 48 examples/s with im2col everywhere vs 107;
# im2col from 64 channels up: 89). And im2col where the patch matrix has at
# most IM2COL_MAX_COLUMNS columns (in_channels * kh * kw): the CNN's first
# conv on grayscale images (9 columns) trains ~20% faster per CPU-second
# that way (no transposes of the large output gradient for the kernel
# gradient, no separate bias reduction), while a 3x3 conv on RGB (27
# columns) was neutral for ResNet-20 and 12% slower for VGG11 x0.25.
IM2COL_MIN_CHANNELS = 128
IM2COL_MAX_COLUMNS = 16


def resolve_impl(impl: str, in_channels: int = IM2COL_MIN_CHANNELS,
                 window: Sequence[int] = ()) -> str:
  """'xla' or 'im2col' for `impl` and a layer's input channels and window.

  'auto' is the native conv off CPU (cuDNN); on CPU, im2col when the patch
  matrix is narrow (in_channels * prod(window) <= IM2COL_MAX_COLUMNS: a first
  layer on grayscale images) or the input wide (in_channels >=
  IM2COL_MIN_CHANNELS). Pooling (no channel argument) always takes the
  slice-based path on CPU.
  """
  if impl not in CONV_IMPLS:
    raise ConfigError(f'conv_impl {impl!r} not allowed; allowed: '
                      f'{", ".join(CONV_IMPLS)}')
  if impl == 'auto':
    if jax.default_backend() != 'cpu':
      return 'xla'
    narrow = bool(window) and (in_channels * int(np.prod(window))
                               <= IM2COL_MAX_COLUMNS)
    wide = in_channels >= IM2COL_MIN_CHANNELS
    return 'im2col' if narrow or wide else 'xla'
  return impl


def _tuple(value, nd: int, what: str) -> Tuple[int, ...]:
  if isinstance(value, int):
    return (value,) * nd
  value = tuple(int(v) for v in value)
  if len(value) != nd:
    raise ValueError(f'{what}={value} has {len(value)} entries for {nd} '
                     'spatial axes')
  return value


def _pads(padding: Padding, sizes, window,
          strides) -> Tuple[Tuple[int, int], ...]:
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
  return tuple((n - k) // s + 1
               for n, k, s in zip(padded_sizes, window, strides))


def _check_fits(what: str, x, window, pads) -> None:
  """A ConfigError when a window is larger than the (padded) input: the model
  downsamples more than the input has room for."""
  sizes = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], pads))
  if any(n < k for n, k in zip(sizes, window)):
    raise ConfigError(f'input too small for this model: a {what} with window '
                      f'{window} meets spatial size {x.shape[1:-1]}; use larger '
                      'inputs or a model that downsamples less')


def _patches(x, window, strides, out_sizes, ones: bool):
  """(N, *out_sizes, prod(window) * C [+ 1]): the shifted views side by side,
  channel order (offset, cin) as the kernel's row-major (kh, kw, cin); with
  `ones`, a last column of ones that multiplies the bias."""
  views = list(_shifted_views(x, window, strides, out_sizes))
  if ones:
    views.append(jnp.ones(views[0].shape[:-1] + (1,), x.dtype))
  return views[0] if len(views) == 1 else jnp.concatenate(views, axis=-1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def conv_im2col(x, kernel, bias, strides, pads):
  """Convolution (cross-correlation, like lax) plus `bias` (or None) as one
  matmul of the patch matrix with the kernel (and bias) reshaped to rows.

  Its gradients are written out (jax.custom_vjp) rather than derived: the
  kernel's and bias's are one matmul of the saved patch matrix with the
  output gradient (derived, the bias gradient is a reduction that XLA:CPU
  rewrites into a slow reduce-window: 20 ms of the CNN's step), the input's
  goes back through the patch extraction. Same values as conv_xla + bias
  within float tolerance (tests/test_models_conv.py).
  """
  return _im2col_fwd(x, kernel, bias, strides, pads)[0]


def _im2col_fwd(x, kernel, bias, strides, pads):
  patches = _im2col_patches(x, kernel.shape, strides, pads, bias is not None)
  rows = kernel.reshape(-1, kernel.shape[-1])
  if bias is not None:
    rows = jnp.concatenate([rows, bias[None]], axis=0)
  return jnp.dot(patches, rows), (x, patches, kernel)


def _im2col_patches(x, kernel_shape, strides, pads, ones: bool):
  window = kernel_shape[:len(kernel_shape) - 2]
  xp = jnp.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),))
  out_sizes = _out_sizes(xp.shape[1:-1], window, strides)
  return _patches(xp, window, strides, out_sizes, ones)


def _im2col_bwd(strides, pads, residuals, grad):
  x, patches, kernel = residuals
  cout = kernel.shape[-1]
  grad_rows = jnp.dot(patches.reshape(-1, patches.shape[-1]).T,
                      grad.reshape(-1, cout))
  taps = kernel.size // cout
  grad_kernel = grad_rows[:taps].reshape(kernel.shape)
  grad_bias = grad_rows[taps] if grad_rows.shape[0] > taps else None
  # The patches' gradient (one matmul) taken back through the patch
  # extraction (col2im: the kh*kw shifted views' pads, summed in one fused
  # loop). The native transposed conv measured 4x slower on VGG's wide
  # layers over small maps. XLA drops this when x needs no gradient.
  grad_patches = jnp.dot(grad, kernel.reshape(-1, cout).T)
  extract = lambda x: _im2col_patches(x, kernel.shape, strides, pads, False)
  grad_x = jax.vjp(extract, x)[1](grad_patches)[0]
  return grad_x, grad_kernel, grad_bias


conv_im2col.defvjp(_im2col_fwd, _im2col_bwd)


def conv_xla(x, kernel, strides, pads):
  """The native convolution (cuDNN on GPU)."""
  spatial = 'HWD'[:kernel.ndim - 2]
  dims = ('N' + spatial + 'C', spatial + 'IO', 'N' + spatial + 'C')
  return lax.conv_general_dilated(x, kernel, tuple(strides), tuple(pads),
                                  dimension_numbers=dims)


def _quick_compiling(init: Callable) -> Callable:
  """`init` drawing with the classic (non-partitionable) threefry.

  With jax_threefry_partitionable on (jax's default), XLA-CPU compiles a
  random draw over a 4-D kernel shape several times slower than over a flat
  one; the classic generator compiles like the flat draw (ResNet-20 and VGG16
  init: 3.1-3.7 s -> 1.4-1.5 s). The values differ from the partitionable
  ones but come from the same distribution; params are replicated here, so
  partitioned generation buys nothing.
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
    _check_fits('conv', x, window, pads)
    kernel = kernel.astype(x.dtype)
    bias = None
    if self.use_bias:
      bias = self.param('bias', self.bias_init, (self.features,),
                        jnp.float32).astype(x.dtype)
    if resolve_impl(self.impl, x.shape[-1], window) == 'im2col':
      return conv_im2col(x, kernel, bias, strides, pads)
    y = conv_xla(x, kernel, strides, pads)
    return y if bias is None else y + bias


def max_pool(x, window: Union[int, Sequence[int]],
             strides: Union[int, Sequence[int], None] = None,
             padding: Padding = 'VALID', impl: str = 'auto'):
  """Max pooling over the spatial axes of (N, ..., C); strides default window.

  impl 'xla' is nn.max_pool; 'im2col' (and 'auto' on CPU) the slice-based max.
  Padding pads with -inf, like nn.max_pool, so padded cells never win.
  """
  nd = x.ndim - 2
  window = _tuple(window, nd, 'window')
  strides = window if strides is None else _tuple(strides, nd, 'strides')
  pads = _pads(padding, x.shape[1:-1], window, strides)
  _check_fits('max pool', x, window, pads)
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
