"""The Keras beginner's CNN, and the building blocks all conv families share.

Conv families take images (N, H, W, C) and sequences (N, L, C): an int kernel
size or window is repeated over however many spatial axes the input has, so
MNIST-1D runs through the same definitions with 1-D convolutions.
"""
from typing import Tuple

import flax.linen as nn

from dlexp.errors import ConfigError
from dlexp.models.config import MODELS, ModelSpec, Parts, make_parts, scaled
from dlexp.models.mlp import classifier


def check_spatial_input(name: str, input_shape) -> Tuple[int, ...]:
  """input_shape (no batch axis) must be (H, W, C) or (L, C)."""
  input_shape = tuple(int(d) for d in input_shape)
  if len(input_shape) not in (2, 3):
    raise ConfigError(f'model {name!r} needs images (H, W, C) or sequences '
                      f'(L, C); got input shape {input_shape}')
  return input_shape


def conv_unit(parts: Parts, x, features: int, kernel_size=3, strides=1,
              padding='SAME', *, train: bool, name: str, use_bias=True,
              activate: bool = True):
  """conv -> [norm] -> [activation] (or conv -> activation -> norm with
  model.norm_position 'after'): submodules name, name_bn, name_act."""
  x = parts.conv(features, kernel_size, strides, padding, use_bias,
                 name=name)(x)
  return parts.norm_act(x, train, f'{name}_bn', f'{name}_act', activate)


def spatial_dropout(parts: Parts, x, rate, train: bool, name: str):
  """Channel dropout on feature maps when model.dropout is 'spatial'.

  Only that variant drops inside the conv base (Tompson et al. 2015 drop whole
  maps); the other variants act in the dense classifier, as in the papers.
  """
  if parts.dropout != 'spatial':
    return x
  return parts.drop(name=name)(x, rate, train)


def flatten(x):
  return x.reshape(x.shape[0], -1)


def conv_head(module: nn.Module, x, train: bool, rate):
  """The dense classifier of a conv family on its flat features `x`.

  `module` has fields parts, head and num_classes. With no hidden head layer,
  dropout acts on the features themselves, so it always precedes the logits.
  """
  return classifier(module, module.parts, x, module.head, module.num_classes,
                    train=train, rate=rate, drop_input=not module.head,
                    prefix='head_')


class CNN(nn.Module):
  """conv32-pool-conv64-pool-dense128: 3x3 valid convs, 2x2 max pools, dropout
  before the classifier (the Keras beginner's network)."""
  parts: Parts
  channels: Tuple[int, ...]
  head: Tuple[int, ...]
  num_classes: int

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    for i, ch in enumerate(self.channels, 1):
      x = conv_unit(self.parts, x, ch, 3, padding='VALID', train=train,
                    name=f'conv{i}')
      x = self.parts.pool(2, name=f'pool{i}')(x)
      x = spatial_dropout(self.parts, x, dropout_rate, train, f'pool{i}_drop')
    return conv_head(self, flatten(x), train, dropout_rate)


def build_cnn(model_cfg, num_classes: int, input_shape) -> CNN:
  check_spatial_input('cnn', input_shape)
  wm = model_cfg.width_mult
  head = tuple(model_cfg.head) or (scaled(128, wm),)
  return CNN(make_parts(model_cfg), (scaled(32, wm), scaled(64, wm)), head,
             num_classes)


MODELS.register('cnn', ModelSpec(build_cnn, vmap_friendly=False,
                                 tiny=dict(width_mult=0.25)))
