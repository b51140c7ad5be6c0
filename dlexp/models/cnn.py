"""Small CNNs (the Keras beginner's network and two published baselines), and
the building blocks all conv families share.

Conv families take images (N, H, W, C) and sequences (N, L, C): an int kernel
size or window is repeated over however many spatial axes the input has, so
MNIST-1D runs through the same definitions with 1-D convolutions.
"""
from typing import Tuple

import flax.linen as nn

from dlexp.errors import ConfigError
from dlexp.models.config import (MODELS, ModelSpec, Parts, make_parts,
                                 named_variants, scaled)
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


# Variants: (channels, kernel, stride, padding, pool window or 0) per conv,
# and the default dense head.
VARIANTS = {
    # The Keras beginner's network: 3x3 valid convs, 2x2 max pools, dense 128.
    'keras': (((32, 3, 1, 'VALID', 2), (64, 3, 1, 'VALID', 2)), (128,)),
    # TensorFlow's layers tutorial, the Fashion-MNIST benchmark's convnet.py:
    # 5x5 same convs, 2x2 pools, dense 1024 (3.27M parameters on 28x28x1).
    'tf_tutorial': (((32, 5, 1, 'SAME', 2), (64, 5, 1, 'SAME', 2)), (1024,)),
    # MNIST-1D's ConvBase (Greydanus 2020): three stride-2 convs of 25
    # channels with padding 1, no pooling, a linear classifier.
    'mnist1d': (((25, 5, 2, 1, 0), (25, 3, 2, 1, 0), (25, 3, 2, 1, 0)), ()),
}
DEFAULT_VARIANT = 'keras'


class CNN(nn.Module):
  """Convs (conv -> [norm] -> activation -> [max pool]) then the dense
  classifier; `convs` as in VARIANTS. Dropout precedes the classifier."""
  parts: Parts
  convs: Tuple[Tuple, ...]
  head: Tuple[int, ...]
  num_classes: int

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    for i, (ch, k, stride, padding, pool) in enumerate(self.convs, 1):
      x = conv_unit(self.parts, x, ch, k, stride, padding, train=train,
                    name=f'conv{i}')
      if pool:
        x = self.parts.pool(pool, name=f'pool{i}')(x)
        x = spatial_dropout(self.parts, x, dropout_rate, train,
                            f'pool{i}_drop')
    return conv_head(self, flatten(x), train, dropout_rate)


def build_cnn(model_cfg, num_classes: int, input_shape) -> CNN:
  check_spatial_input('cnn', input_shape)
  wm = model_cfg.width_mult
  convs, head = VARIANTS[model_cfg.variant or DEFAULT_VARIANT]
  convs = tuple((scaled(c[0], wm),) + c[1:] for c in convs)
  head = tuple(model_cfg.head) or tuple(scaled(h, wm) for h in head)
  return CNN(make_parts(model_cfg), convs, head, num_classes)


MODELS.register('cnn', ModelSpec(
    build_cnn, vmap_friendly=False,
    check_variant=named_variants('cnn', VARIANTS, DEFAULT_VARIANT),
    tiny=dict(width_mult=0.25)))
