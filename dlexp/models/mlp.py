"""Multilayer perceptron, and the dense classifier head every family ends in."""
from typing import Sequence, Tuple

import flax.linen as nn

from dlexp.models.config import MODELS, ModelSpec, Parts, make_parts


def classifier(module: nn.Module, parts: Parts, x, sizes: Sequence[int],
               num_classes: int, *, train: bool, rate, norm: bool = False,
               drop_input: bool = False, prefix: str = ''):
  """Dense stack ending in logits; call from `module`'s compact method.

  Each hidden layer is dense -> [norm] -> activation -> dropout (norm after
  the activation with model.norm_position 'after'); the last
  hidden output (or `x` when `sizes` is empty) is sown as 'features'.
  `drop_input` also drops `x` (used when a conv net has no hidden head, so
  dropout still precedes the logits). DropConnect, when configured, replaces
  unit dropout on exactly the layers whose input dropout would have dropped.
  """
  features, h, dropped = x, x, drop_input
  if drop_input:
    h = parts.drop(name=f'{prefix}dropout0')(h, rate, train)
  for i, size in enumerate(sizes, 1):
    h = parts.dense(size, name=f'{prefix}dense{i}', dropconnect=dropped)(
        h, rate, train)
    if norm:
      features = h = parts.norm_act(h, train, f'{prefix}norm{i}',
                                    f'{prefix}act{i}')
    else:
      features = h = parts.act(name=f'{prefix}act{i}')(h, train)
    h = parts.drop(name=f'{prefix}dropout{i}')(h, rate, train)
    dropped = True
  module.sow('intermediates', 'features', features)
  return parts.dense(num_classes, name='logits', dropconnect=dropped)(
      h, rate, train)


class MLP(nn.Module):
  """Fully connected net on the flattened input: `hidden` layers, logits."""
  parts: Parts
  hidden: Tuple[int, ...]
  num_classes: int

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    x = x.reshape(x.shape[0], -1)
    return classifier(self, self.parts, x, self.hidden, self.num_classes,
                      train=train, rate=dropout_rate, norm=True)


def build_mlp(model_cfg, num_classes: int, input_shape) -> MLP:
  hidden = tuple(model_cfg.hidden) or (model_cfg.width,) * model_cfg.depth
  return MLP(make_parts(model_cfg), hidden, num_classes)


MODELS.register('mlp', ModelSpec(build_mlp, vmap_friendly=True,
                                 tiny=dict(depth=3, width=16)))
