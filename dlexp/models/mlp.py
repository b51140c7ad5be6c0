"""Multilayer perceptron, and the dense classifier head every family ends in.

model.residual (MLP only) adds an identity skip around every hidden layer
whose input and output widths are equal: h = act(norm(dense(h))) + h, the sum
taken after the activation and before the layer's dropout. The first hidden
layer (input width -> width) and the logits have no skip; no parameters are
added, and residual=False is the plain stack, unchanged.
"""
from typing import Sequence, Tuple

import flax.linen as nn

from dlexp.models.config import MODELS, ModelSpec, Parts, make_parts


def classifier(module: nn.Module, parts: Parts, x, sizes: Sequence[int],
               num_classes: int, *, train: bool, rate, norm: bool = False,
               drop_input: bool = False, prefix: str = '',
               residual: bool = False):
  """Dense stack ending in logits; call from `module`'s compact method.

  Each hidden layer is dense -> [norm] -> activation -> dropout (norm after
  the activation with model.norm_position 'after'); the last
  hidden output (or `x` when `sizes` is empty) is sown as 'features'.
  `drop_input` also drops `x` (used when a conv net has no hidden head, so
  dropout still precedes the logits). DropConnect, when configured, replaces
  unit dropout on exactly the layers whose input dropout would have dropped.
  `residual` adds h to a hidden layer's activation output where the widths
  match (see the module docstring); 'features' is then that sum.
  """
  features, h, dropped = x, x, drop_input
  if drop_input:
    h = parts.drop(name=f'{prefix}dropout0')(h, rate, train)
  for i, size in enumerate(sizes, 1):
    skip = h
    h = parts.dense(size, name=f'{prefix}dense{i}', dropconnect=dropped)(
        h, rate, train)
    if norm:
      h = parts.norm_act(h, train, f'{prefix}norm{i}', f'{prefix}act{i}')
    else:
      h = parts.act(name=f'{prefix}act{i}')(h, train)
    if residual and skip.shape[-1] == size:
      h = h + skip
    features = h
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
  residual: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    x = x.reshape(x.shape[0], -1)
    return classifier(self, self.parts, x, self.hidden, self.num_classes,
                      train=train, rate=dropout_rate, norm=True,
                      residual=self.residual)


def build_mlp(model_cfg, num_classes: int, input_shape) -> MLP:
  hidden = tuple(model_cfg.hidden) or (model_cfg.width,) * model_cfg.depth
  return MLP(make_parts(model_cfg), hidden, num_classes,
             bool(model_cfg.residual))


MODELS.register('mlp', ModelSpec(build_mlp, vmap_friendly=True,
                                 tiny=dict(depth=3, width=16),
                                 uses_residual=True))
