"""VGG-11/13/16/19 (Simonyan & Zisserman 2014, configurations A, B, D, E).

Only 3x3 stride-1 padding-1 convs and 2x2 stride-2 max pools. Pools use SAME
padding, which changes nothing on 32 px inputs (five exact halvings, as in the
Keras VGG16 base: 14,714,688 parameters) and lets 28 px and 40-step inputs
through all five pools. model.head sets the dense head; the notes' experiment
is head=(1024, 512, 256, 128). The default head is 512-512 (the usual CIFAR
VGG head) rather than the ImageNet 4096-4096.

model.stacked_3x3=False replaces each block's stack of n 3x3 convs by one
(2n+1)x(2n+1) conv with the block's output channels: the same receptive
field (two 3x3 see 5x5, three see 7x7) with one nonlinearity instead of n,
and 25 C^2 instead of 18 C^2 weights for two C->C convs (49 vs 27 for three).
"""
from typing import Tuple

import flax.linen as nn

from dlexp.models.cnn import (check_spatial_input, conv_head, conv_unit,
                              flatten, spatial_dropout)
from dlexp.models.config import (MODELS, ModelSpec, Parts, make_parts,
                                 named_variants, scaled)

# Conv widths per block; each block ends in a 2x2 max pool.
CONFIGS = {
    'vgg11': ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    'vgg13': ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    'vgg16': ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512),
              (512, 512, 512)),
    'vgg19': ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}
DEFAULT_VARIANT = 'vgg16'


class VGG(nn.Module):
  parts: Parts
  blocks: Tuple[Tuple[int, ...], ...]
  head: Tuple[int, ...]
  num_classes: int
  stacked_3x3: bool = True

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    for b, block in enumerate(self.blocks, 1):
      if not self.stacked_3x3:  # one conv, the stack's receptive field
        block = ((block[-1], 2 * len(block) + 1),)
      else:
        block = tuple((ch, 3) for ch in block)
      for i, (ch, k) in enumerate(block, 1):
        x = conv_unit(self.parts, x, ch, k, train=train,
                      name=f'block{b}_conv{i}')
      x = self.parts.pool(2, padding='SAME', name=f'block{b}_pool')(x)
      x = spatial_dropout(self.parts, x, dropout_rate, train, f'block{b}_drop')
    return conv_head(self, flatten(x), train, dropout_rate)


def build_vgg(model_cfg, num_classes: int, input_shape) -> VGG:
  check_spatial_input('vgg', input_shape)
  wm = model_cfg.width_mult
  blocks = tuple(tuple(scaled(c, wm) for c in block)
                 for block in CONFIGS[model_cfg.variant or DEFAULT_VARIANT])
  head = tuple(model_cfg.head) or (scaled(512, wm),) * 2
  return VGG(make_parts(model_cfg), blocks, head, num_classes,
             bool(model_cfg.stacked_3x3))


MODELS.register('vgg', ModelSpec(
    build_vgg, vmap_friendly=False,
    check_variant=named_variants('vgg', CONFIGS, DEFAULT_VARIANT),
    tiny=dict(variant='vgg11', width_mult=0.0625), switches=('stacked_3x3',)))
