"""Recurrent classifiers: LSTM / GRU layers over (N, L, C) sequences.

Images (N, H, W, C) are read row by row as sequences of H steps of W*C
features (Fashion-MNIST: 28 steps of 28 pixels). The classifier reads the last
time step. Layers: model.hidden if set, else one of model.rnn_hidden units.

Dropout (model.dropout), on the input (unless model.rnn_input_dropout is
False), between stacked layers and on the output (the last step's
features); the recurrent state is masked only by 'variational':
- 'standard': a fresh mask at every time step (Zaremba et al. 2014's
  non-recurrent dropout).
- 'locked': one mask per sequence, shared by every time step.
- 'variational' (Gal & Ghahramani 2016): the same, and in each recurrent
  layer one more mask per sequence on the state h fed back into the cell at
  every step (the LSTM's cell state c is not masked).
"""
from typing import Callable, Optional, Tuple

import flax.linen as nn
import jax

from dlexp.layers.dropout import sequence_mask
from dlexp.models.cnn import check_spatial_input
from dlexp.models.config import MODELS, ModelSpec, Parts, make_parts
from dlexp.models.mlp import classifier

CELLS = {'lstm': nn.LSTMCell, 'gru': nn.GRUCell}


class StateDropoutCell(nn.RNNCellBase):
  """Runs `cell` on its carried state with h multiplied by a mask that the
  carry holds unchanged from step to step: carry = (cell's carry, mask).

  Only the h fed into the recurrent matmul is masked: the cell's outputs and
  its next carry are its own.
  """
  cell: nn.RNNCellBase

  def __call__(self, carry, x):
    state, mask = carry
    if isinstance(state, tuple):  # LSTM: (c, h)
      masked = (state[0], state[1] * mask.astype(state[1].dtype))
    else:  # GRU: h
      masked = state * mask.astype(state.dtype)
    state, y = self.cell(masked, x)
    return (state, mask), y

  @property
  def num_feature_axes(self) -> int:
    return self.cell.num_feature_axes


class Recurrent(nn.Module):
  """One recurrent layer: a cell scanned over the time axis of (N, L, C);
  with state_dropout, h is masked once per sequence (StateDropoutCell)."""
  cell: str
  features: int
  bias_init: Callable
  kernel_init: Optional[Callable] = None
  state_dropout: bool = False

  @nn.compact
  def __call__(self, x, rate=0.0, train: bool = False):
    init = {} if self.kernel_init is None else {'kernel_init': self.kernel_init}
    cell = CELLS[self.cell](self.features, bias_init=self.bias_init,
                            name='cell', **init)
    if not self.state_dropout:
      return nn.RNN(cell)(x)
    mask = sequence_mask(self, rate, (x.shape[0], self.features), train)
    # The initial carry is zeros; the key is unused by flax's cells.
    state = cell.initialize_carry(jax.random.key(0), x[:, 0].shape)
    return nn.RNN(StateDropoutCell(cell))(x, initial_carry=(state, mask))


class RNNClassifier(nn.Module):
  parts: Parts
  cell: str
  sizes: Tuple[int, ...]
  head: Tuple[int, ...]
  num_classes: int
  # None keeps flax's defaults (LeCun normal input, orthogonal recurrent).
  kernel_init: Optional[Callable] = None
  input_dropout: bool = True

  @nn.compact
  def __call__(self, x, *, train: bool, dropout_rate=0.0):
    if x.ndim == 4:
      x = x.reshape(x.shape[0], x.shape[1], -1)
    h = x
    if self.input_dropout:
      h = self.parts.drop(name='input_dropout')(x, dropout_rate, train)
    for i, size in enumerate(self.sizes, 1):
      if i > 1:
        h = self.parts.drop(name=f'{self.cell}{i - 1}_dropout')(
            h, dropout_rate, train)
      h = Recurrent(self.cell, size, self.parts.bias_init, self.kernel_init,
                    state_dropout=self.parts.dropout == 'variational',
                    name=f'{self.cell}{i}')(h, dropout_rate, train)
    # Dropping the last step's output equals locked dropout on the outputs.
    return classifier(self, self.parts, h[:, -1], self.head, self.num_classes,
                      train=train, rate=dropout_rate, drop_input=True,
                      prefix='head_')


def _builder(fixed_cell: str):
  def build(model_cfg, num_classes: int, input_shape) -> RNNClassifier:
    check_spatial_input(model_cfg.name, input_shape)
    parts = make_parts(model_cfg)
    sizes = tuple(model_cfg.hidden) or (model_cfg.rnn_hidden,)
    init = None if model_cfg.kernel_init == 'default' else parts.kernel_init
    return RNNClassifier(parts, fixed_cell or model_cfg.cell, sizes,
                         tuple(model_cfg.head), num_classes, init,
                         bool(model_cfg.rnn_input_dropout))
  return build


_TINY = dict(rnn_hidden=16)
for _name, _cell in (('rnn', ''), ('lstm', 'lstm'), ('gru', 'gru')):
  MODELS.register(_name, ModelSpec(_builder(_cell), vmap_friendly=True,
                                   tiny=_TINY, recurrent=True,
                                   norm_after=False))
