"""Recurrent classifiers: LSTM / GRU layers over (N, L, C) sequences.

Images (N, H, W, C) are read row by row as sequences of H steps of W*C
features (Fashion-MNIST: 28 steps of 28 pixels). Dropout is variational
(locked): one mask per sequence shared by every time step (Gal & Ghahramani
2016), on the input, between stacked layers and on the output; so the family
runs model.dropout 'standard' as 'locked' (a fresh mask per step would be
unit dropout on a different network at every step). The classifier reads the
last time step. Layers: model.hidden if set, else one of model.rnn_hidden units.
"""
import dataclasses
from typing import Callable, Optional, Tuple

import flax.linen as nn

from dlexp.models.cnn import check_spatial_input
from dlexp.models.config import MODELS, ModelSpec, Parts, make_parts
from dlexp.models.mlp import classifier

CELLS = {'lstm': nn.LSTMCell, 'gru': nn.GRUCell}


class Recurrent(nn.Module):
  """One recurrent layer: a cell scanned over the time axis of (N, L, C)."""
  cell: str
  features: int
  bias_init: Callable
  kernel_init: Optional[Callable] = None

  @nn.compact
  def __call__(self, x):
    init = {} if self.kernel_init is None else {'kernel_init': self.kernel_init}
    cell = CELLS[self.cell](self.features, bias_init=self.bias_init,
                            name='cell', **init)
    return nn.RNN(cell)(x)


class RNNClassifier(nn.Module):
  parts: Parts
  cell: str
  sizes: Tuple[int, ...]
  head: Tuple[int, ...]
  num_classes: int
  # None keeps flax's defaults (LeCun normal input, orthogonal recurrent).
  kernel_init: Optional[Callable] = None

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    if x.ndim == 4:
      x = x.reshape(x.shape[0], x.shape[1], -1)
    h = self.parts.drop(name='input_dropout')(x, dropout_rate, train)
    for i, size in enumerate(self.sizes, 1):
      if i > 1:
        h = self.parts.drop(name=f'{self.cell}{i - 1}_dropout')(
            h, dropout_rate, train)
      h = Recurrent(self.cell, size, self.parts.bias_init, self.kernel_init,
                    name=f'{self.cell}{i}')(h)
    # Dropping the last step's output equals locked dropout on the outputs.
    return classifier(self, self.parts, h[:, -1], self.head, self.num_classes,
                      train=train, rate=dropout_rate, drop_input=True,
                      prefix='head_')


def _builder(fixed_cell: str):
  def build(model_cfg, num_classes: int, input_shape) -> RNNClassifier:
    check_spatial_input(model_cfg.name, input_shape)
    parts = make_parts(model_cfg)
    if parts.dropout == 'standard':
      parts = dataclasses.replace(parts, dropout='locked')
    sizes = tuple(model_cfg.hidden) or (model_cfg.rnn_hidden,)
    init = None if model_cfg.kernel_init == 'default' else parts.kernel_init
    return RNNClassifier(parts, fixed_cell or model_cfg.cell, sizes,
                         tuple(model_cfg.head), num_classes, init)
  return build


_TINY = dict(rnn_hidden=16)
MODELS.register('rnn', ModelSpec(_builder(''), vmap_friendly=True, tiny=_TINY))
MODELS.register('lstm', ModelSpec(_builder('lstm'), vmap_friendly=True,
                                  tiny=_TINY))
MODELS.register('gru', ModelSpec(_builder('gru'), vmap_friendly=True,
                                 tiny=_TINY))
