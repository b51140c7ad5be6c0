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
"""
from typing import Tuple, Union

import flax.linen as nn
import jax.numpy as jnp

from dlexp.models.cnn import (check_spatial_input, conv_head, conv_unit,
                              spatial_dropout)
from dlexp.models.config import (MODELS, ModelSpec, Parts, make_parts,
                                 named_variants, scaled)

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


class InceptionModule(nn.Module):
  """Four parallel branches concatenated along channels; output channels are
  c1 + c3 + c5 + pool_proj."""
  parts: Parts
  c1: int
  c3_reduce: int
  c3: int
  c5_reduce: int
  c5: int
  pool_proj: int
  bottleneck: bool = True

  @nn.compact
  def __call__(self, x, train: bool):
    unit = lambda h, ch, k, name: conv_unit(
        self.parts, h, ch, k, train=train, name=name,
        use_bias=not self.parts.has_norm)
    reduce = lambda h, ch, name: unit(h, ch, 1, name) if self.bottleneck else h
    b1 = unit(x, self.c1, 1, 'b1x1')
    b3 = unit(reduce(x, self.c3_reduce, 'b3x3_reduce'), self.c3, 3, 'b3x3')
    b5 = unit(reduce(x, self.c5_reduce, 'b5x5_reduce'), self.c5, 5, 'b5x5')
    bp = self.parts.pool(3, 1, 'SAME', name='bpool')(x)
    bp = unit(bp, self.pool_proj, 1, 'bpool_proj')
    return jnp.concatenate([b1, b3, b5, bp], axis=-1)


class Inception(nn.Module):
  parts: Parts
  stem: int
  layout: Tuple[Union[str, Tuple[int, ...]], ...]
  head: Tuple[int, ...]
  num_classes: int
  bottleneck: bool = True

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
  return Inception(make_parts(model_cfg, norm_default='batch'),
                   scaled(STEM, wm), layout, tuple(model_cfg.head),
                   num_classes, bool(model_cfg.bottleneck))


MODELS.register('inception', ModelSpec(
    build_inception, vmap_friendly=False,
    check_variant=named_variants('inception', VARIANTS, DEFAULT_VARIANT),
    tiny=dict(variant='mini', width_mult=0.0625), norm_after=False,
    switches=('bottleneck',)))
