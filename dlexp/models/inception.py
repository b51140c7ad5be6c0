"""GoogLeNet-style Inception network (Szegedy et al. 2014) for small images.

An inception module runs four branches on the same input and concatenates
them along channels: 1x1; 1x1 bottleneck -> 3x3; 1x1 bottleneck -> 5x5; 3x3
max pool -> 1x1 projection. The bottlenecks are what make the 3x3 and 5x5
branches affordable. The 'googlenet' variant keeps the paper's nine modules
(3a-5b, with its channel table) behind a single 3x3 stem instead of the
ImageNet stem, for 28-32 px inputs (the layout of the common CIFAR GoogLeNet);
'mini' keeps two of them (3a, pool, 4a). Conv units are conv -> BatchNorm ->
activation by default (norm 'default' = batch).

model.bottleneck=False removes the two 1x1 reduce convs: the 3x3 and 5x5
branches convolve the module's full input (the paper's 'naive' module, with
the pool projection kept so that every module keeps its output channels and
the rest of the network is unchanged).

model.inception_kernels=(k,) gives every module one conv branch instead of
the parallel 1x1, 3x3 and 5x5 ones: a 1x1 reduce, then a kxk conv with the
branches' c1 + c3 + c5 output channels (the pool branch kept), so the rest
of the network is unchanged. The reduce width is set so that the module's
parameters equal the parallel module's (closed form: single_size_reduce, to
within rounding): the single-size nets differ from the Inception net in the
kernel sizes a module sees, not in its parameter budget. This is the
ablation of the notes' "multiple/all conv kernel sizes in same level".
"""
from typing import Tuple, Union

import flax.linen as nn
import jax.numpy as jnp

from dlexp.models.cnn import (check_spatial_input, conv_head, conv_unit,
                              spatial_dropout)
from dlexp.models.config import (INCEPTION_KERNELS, MODELS, ModelSpec, Parts,
                                 make_parts, named_variants, scaled)

# Branch channels (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), from
# Table 1 of the paper.
MODULES = {
    '3a': (64, 96, 128, 16, 32, 32),
    '3b': (128, 128, 192, 32, 96, 64),
    '4a': (192, 96, 208, 16, 48, 64),
    '4b': (160, 112, 224, 24, 64, 64),
    '4c': (128, 128, 256, 24, 64, 64),
    '4d': (112, 144, 288, 32, 64, 64),
    '4e': (256, 160, 320, 32, 128, 128),
    '5a': (256, 160, 320, 32, 128, 128),
    '5b': (384, 192, 384, 48, 128, 128),
}
STEM = 192
# 'M' is a 3x3 stride-2 max pool between stages.
VARIANTS = {
    'googlenet': ('3a', '3b', 'M', '4a', '4b', '4c', '4d', '4e', 'M', '5a',
                  '5b'),
    'mini': ('3a', 'M', '4a'),
}
DEFAULT_VARIANT = 'googlenet'


def conv_params(k: int, cin: int, cout: int, dims: int,
                per_channel: int) -> int:
  """Parameters of a k-sized conv over `dims` spatial axes, with
  `per_channel` more per output channel (a bias: 1; BatchNorm's scale and
  bias: 2)."""
  return k ** dims * cin * cout + per_channel * cout


def parallel_params(cin: int, c1: int, c3_reduce: int, c3: int,
                    c5_reduce: int, c5: int, dims: int,
                    per_channel: int) -> int:
  """Parameters of the parallel conv branches (pool projection excluded:
  both designs have the same one)."""
  p = lambda k, i, o: conv_params(k, i, o, dims, per_channel)
  return (p(1, cin, c1) + p(1, cin, c3_reduce) + p(3, c3_reduce, c3)
          + p(1, cin, c5_reduce) + p(5, c5_reduce, c5))


def single_size_reduce(k: int, cin: int, c1: int, c3_reduce: int, c3: int,
                       c5_reduce: int, c5: int, dims: int,
                       per_channel: int) -> int:
  """The 1x1 reduce width r of a single 1x1 (r) -> kxk (c1 + c3 + c5)
  branch whose parameters, r * (cin + per_channel + k^dims * out) +
  per_channel * out, are closest to the parallel branches' (at least 1)."""
  out = c1 + c3 + c5
  target = parallel_params(cin, c1, c3_reduce, c3, c5_reduce, c5, dims,
                           per_channel)
  return max(1, round((target - per_channel * out)
                      / (cin + per_channel + k ** dims * out)))


class InceptionModule(nn.Module):
  """Four parallel branches concatenated along channels; output channels are
  c1 + c3 + c5 + pool_proj. kernel_size k > 0: one 1x1 reduce -> kxk branch
  with c1 + c3 + c5 channels instead of the three conv branches, its reduce
  width matching their parameters (single_size_reduce)."""
  parts: Parts
  c1: int
  c3_reduce: int
  c3: int
  c5_reduce: int
  c5: int
  pool_proj: int
  bottleneck: bool = True
  kernel_size: int = 0  # 0: the parallel 1x1, 3x3 and 5x5 branches

  @nn.compact
  def __call__(self, x, train: bool):
    unit = lambda h, ch, k, name: conv_unit(
        self.parts, h, ch, k, train=train, name=name,
        use_bias=not self.parts.has_norm)
    if self.kernel_size:
      branches = [self._single(x, unit)]
    else:
      reduce = lambda h, ch, name: (unit(h, ch, 1, name) if self.bottleneck
                                    else h)
      branches = [
          unit(x, self.c1, 1, 'b1x1'),
          unit(reduce(x, self.c3_reduce, 'b3x3_reduce'), self.c3, 3, 'b3x3'),
          unit(reduce(x, self.c5_reduce, 'b5x5_reduce'), self.c5, 5, 'b5x5')]
    bp = self.parts.pool(3, 1, 'SAME', name='bpool')(x)
    bp = unit(bp, self.pool_proj, 1, 'bpool_proj')
    return jnp.concatenate(branches + [bp], axis=-1)

  def _single(self, x, unit):
    """The one 1x1 reduce -> kxk branch (kernel_size k)."""
    k = self.kernel_size
    r = single_size_reduce(k, x.shape[-1], self.c1, self.c3_reduce, self.c3,
                           self.c5_reduce, self.c5, x.ndim - 2,
                           2 if self.parts.has_norm else 1)
    return unit(unit(x, r, 1, f'b{k}x{k}_reduce'),
                self.c1 + self.c3 + self.c5, k, f'b{k}x{k}')


class Inception(nn.Module):
  parts: Parts
  stem: int
  layout: Tuple[Union[str, Tuple[int, ...]], ...]
  head: Tuple[int, ...]
  num_classes: int
  bottleneck: bool = True
  kernel_size: int = 0  # InceptionModule's

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    x = conv_unit(self.parts, x, self.stem, 3, train=train, name='stem',
                  use_bias=not self.parts.has_norm)
    pools = 0
    for item in self.layout:
      if item == 'M':
        pools += 1
        x = self.parts.pool(3, 2, 'SAME', name=f'pool{pools}')(x)
        x = spatial_dropout(self.parts, x, dropout_rate, train,
                            f'pool{pools}_drop')
      else:
        name, channels = item
        x = InceptionModule(self.parts, *channels, self.bottleneck,
                            self.kernel_size,
                            name=f'inception{name}')(x, train)
    # Global average pooling, as in the paper (no large dense layers).
    x = jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))
    return conv_head(self, x, train, dropout_rate)


def build_inception(model_cfg, num_classes: int, input_shape) -> Inception:
  check_spatial_input('inception', input_shape)
  wm = model_cfg.width_mult
  layout = tuple(
      item if item == 'M'
      else (item, tuple(scaled(c, wm) for c in MODULES[item]))
      for item in VARIANTS[model_cfg.variant or DEFAULT_VARIANT])
  kernels = tuple(model_cfg.inception_kernels)
  return Inception(make_parts(model_cfg, norm_default='batch'),
                   scaled(STEM, wm), layout, tuple(model_cfg.head),
                   num_classes, bool(model_cfg.bottleneck),
                   0 if kernels == INCEPTION_KERNELS else kernels[0])


MODELS.register('inception', ModelSpec(
    build_inception, vmap_friendly=False,
    check_variant=named_variants('inception', VARIANTS, DEFAULT_VARIANT),
    tiny=dict(variant='mini', width_mult=0.0625), norm_after=False,
    switches=('bottleneck',)))
