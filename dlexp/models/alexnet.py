"""AlexNet (Krizhevsky et al. 2012) adapted to 28-32 px inputs.

Kept from the paper: ReLU, local response normalization after the first two
convs, overlapping 3x3 stride-2 max pooling after conv1, conv2 and conv5, five
convs (64-192-384-256-256 as in the single-GPU version), dropout in the
classifier (model.lrn=False leaves the LRN layers out). Adapted: conv1 is
5x5 stride 1 instead of 11x11 stride 4 (which
would leave a 32 px image almost no spatial extent), and the default head is
1024-1024 instead of 4096-4096.
"""
from typing import Tuple

import flax.linen as nn

from dlexp.layers import LocalResponseNorm
from dlexp.models.cnn import (check_spatial_input, conv_head, conv_unit,
                              flatten, spatial_dropout)
from dlexp.models.config import MODELS, ModelSpec, Parts, make_parts, scaled

# (channels, kernel size, LRN after it, pool after it) per conv.
_CONVS = ((64, 5, True, True), (192, 5, True, True), (384, 3, False, False),
          (256, 3, False, False), (256, 3, False, True))


class AlexNet(nn.Module):
  parts: Parts
  channels: Tuple[int, ...]
  head: Tuple[int, ...]
  num_classes: int
  lrn: bool = True

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    for i, (ch, (_, k, lrn, pool)) in enumerate(zip(self.channels, _CONVS), 1):
      x = conv_unit(self.parts, x, ch, k, train=train, name=f'conv{i}')
      if lrn and self.lrn:
        x = LocalResponseNorm(name=f'lrn{i}')(x)
      if pool:
        x = self.parts.pool(3, 2, name=f'pool{i}')(x)
        x = spatial_dropout(self.parts, x, dropout_rate, train, f'pool{i}_drop')
    return conv_head(self, flatten(x), train, dropout_rate)


def build_alexnet(model_cfg, num_classes: int, input_shape) -> AlexNet:
  check_spatial_input('alexnet', input_shape)
  wm = model_cfg.width_mult
  channels = tuple(scaled(c[0], wm) for c in _CONVS)
  head = tuple(model_cfg.head) or (scaled(1024, wm),) * 2
  return AlexNet(make_parts(model_cfg), channels, head, num_classes,
                 bool(model_cfg.lrn))


MODELS.register('alexnet', ModelSpec(build_alexnet, vmap_friendly=False,
                                     tiny=dict(width_mult=0.0625),
                                     switches=('lrn',)))
