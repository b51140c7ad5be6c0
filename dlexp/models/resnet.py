"""Residual networks (He et al. 2015): CIFAR-style and ImageNet-style.

Variants 'resnet<depth>':
- depth 18, 34 (basic blocks) and 50, 101, 152 (bottleneck blocks): the
  ImageNet networks, laid out like keras.applications (7x7 stride-2 stem, 3x3
  stride-2 max pool, stages of 64-128-256-512 channels, 1x1 projection
  shortcuts where the shape changes, stride on the bottleneck's first 1x1,
  conv biases before BatchNorm), so ResNet-50's base has exactly Keras's
  23,587,712 weights and reproduces the notes' CIFAR-10 experiment.
- any other depth 6n+2 (20, 32, 44, 56, 110, ...): the CIFAR networks of the
  paper's section 4.2: a 3x3 stem, three stages of n basic blocks with 16, 32
  and 64 channels, and option A shortcuts (stride, then zero-pad the new
  channels), which have no parameters.
Both end in global average pooling and the dense classifier.

plain=True removes the skip connections and nothing else: the parameter tree
is the same. Option A shortcuts have no parameters anyway; projection
shortcuts are still created when a plain net is initialized but never used
(they get zero gradients), so a plain net and its residual twin have the same
paths, shapes and counts and can share checkpoints and reports.
"""
import re
from typing import Tuple

import flax.linen as nn
import jax.numpy as jnp

from dlexp.errors import ConfigError
from dlexp.models.cnn import (check_spatial_input, conv_head, conv_unit,
                              spatial_dropout)
from dlexp.models.config import MODELS, ModelSpec, Parts, make_parts, scaled

# depth -> (block, blocks per stage) of the ImageNet networks.
IMAGENET = {18: ('basic', (2, 2, 2, 2)), 34: ('basic', (3, 4, 6, 3)),
            50: ('bottleneck', (3, 4, 6, 3)),
            101: ('bottleneck', (3, 4, 23, 3)),
            152: ('bottleneck', (3, 8, 36, 3))}
IMAGENET_WIDTHS = (64, 128, 256, 512)
CIFAR_WIDTHS = (16, 32, 64)
DEFAULT_VARIANT = 'resnet20'
_BOTTLENECK_EXPANSION = 4


def parse_variant(variant: str) -> Tuple[str, int]:
  """('imagenet' | 'cifar', depth) of a variant name."""
  variant = variant or DEFAULT_VARIANT
  match = re.fullmatch(r'resnet(\d+)', variant)
  depth = int(match.group(1)) if match else 0
  if depth in IMAGENET:
    return 'imagenet', depth
  if depth >= 8 and (depth - 2) % 6 == 0:
    return 'cifar', depth
  raise ConfigError(f'model.variant={variant!r} not allowed for resnet; '
                    'allowed: resnet18, resnet34, resnet50, resnet101, '
                    'resnet152 (ImageNet-style) or resnet<6n+2> such as '
                    'resnet20, resnet32, resnet44, resnet56, resnet110 '
                    '(CIFAR-style)')


def check_variant(variant: str) -> None:
  parse_variant(variant)


def _pad_shortcut(x, strides: int, features: int):
  """Option A: subsample, then zero-pad the extra channels."""
  x = x[(slice(None),) + (slice(None, None, strides),) * (x.ndim - 2)]
  pad = ((0, 0),) * (x.ndim - 1) + ((0, features - x.shape[-1]),)
  return jnp.pad(x, pad)


class Block(nn.Module):
  """A basic (two 3x3) or bottleneck (1x1-3x3-1x1) residual block.

  shortcut: 'pad' (option A) or 'project' (1x1 conv + norm) where the shape
  changes; identity elsewhere.
  """
  parts: Parts
  kind: str
  features: int
  strides: int
  shortcut: str
  plain: bool
  use_bias: bool

  @nn.compact
  def __call__(self, x, train: bool):
    unit = lambda h, ch, k, s, name, activate=True: conv_unit(
        self.parts, h, ch, k, s, train=train, name=name,
        use_bias=self.use_bias, activate=activate)
    if self.kind == 'basic':
      out = self.features
      y = unit(x, self.features, 3, self.strides, 'conv1')
      y = unit(y, self.features, 3, 1, 'conv2', activate=False)
    else:
      out = self.features * _BOTTLENECK_EXPANSION
      y = unit(x, self.features, 1, self.strides, 'conv1')
      y = unit(y, self.features, 3, 1, 'conv2')
      y = unit(y, out, 1, 1, 'conv3', activate=False)
    reshape = self.strides != 1 or x.shape[-1] != out
    if self.shortcut == 'project' and reshape:
      # A plain net still creates the projection at init, so its parameter
      # tree equals the residual net's; it is never applied.
      if not self.plain or self.is_initializing():
        skip = unit(x, out, 1, self.strides, 'proj', activate=False)
        if not self.plain:
          y = y + skip
    elif not self.plain:
      y = y + (_pad_shortcut(x, self.strides, out) if reshape else x)
    return self.parts.act(name='out_act')(y, train)


class ResNet(nn.Module):
  parts: Parts
  style: str  # 'cifar' | 'imagenet'
  kind: str  # 'basic' | 'bottleneck'
  stem: int
  stages: Tuple[Tuple[int, int], ...]  # (features, blocks) per stage
  plain: bool
  head: Tuple[int, ...]
  num_classes: int

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    imagenet = self.style == 'imagenet'
    use_bias = imagenet or not self.parts.has_norm
    if imagenet:
      x = conv_unit(self.parts, x, self.stem, 7, 2, padding=3, train=train,
                    name='stem', use_bias=use_bias)
      x = self.parts.pool(3, 2, padding=1, name='stem_pool')(x)
    else:
      x = conv_unit(self.parts, x, self.stem, 3, train=train, name='stem',
                    use_bias=use_bias)
    for s, (features, blocks) in enumerate(self.stages, 1):
      for b in range(1, blocks + 1):
        strides = 2 if s > 1 and b == 1 else 1
        x = Block(self.parts, self.kind, features, strides,
                  'project' if imagenet else 'pad', self.plain, use_bias,
                  name=f'stage{s}_block{b}')(x, train)
      x = spatial_dropout(self.parts, x, dropout_rate, train, f'stage{s}_drop')
    x = jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))
    return conv_head(self, x, train, dropout_rate)


def build_resnet(model_cfg, num_classes: int, input_shape) -> ResNet:
  check_spatial_input('resnet', input_shape)
  style, depth = parse_variant(model_cfg.variant)
  wm = model_cfg.width_mult
  if style == 'imagenet':
    kind, blocks = IMAGENET[depth]
    widths = IMAGENET_WIDTHS
  else:
    kind, blocks = 'basic', ((depth - 2) // 6,) * 3
    widths = CIFAR_WIDTHS
  stages = tuple((scaled(w, wm), n) for w, n in zip(widths, blocks))
  return ResNet(make_parts(model_cfg, norm_default='batch'), style, kind,
                scaled(widths[0], wm), stages, bool(model_cfg.plain),
                tuple(model_cfg.head), num_classes)


MODELS.register('resnet', ModelSpec(
    build_resnet, vmap_friendly=False, check_variant=check_variant,
    tiny=dict(variant='resnet8', width_mult=0.25), uses_plain=True,
    norm_after=False))
