"""Recurrent classifiers: LSTM / GRU layers over (N, L, C) sequences.

Images (N, H, W, C) are read row by row as sequences of H steps of W*C
features (Fashion-MNIST: 28 steps of 28 pixels). Layers: model.hidden if set,
else one of model.rnn_hidden units. model.bidirectional adds to each layer a
second one reading the sequence backwards, their outputs concatenated per
step. The classifier reads (model.readout) the 'last' step's output (with
bidirectional layers: each direction's final output), or 'all' steps'
outputs flattened (MNIST-1D's GRU baseline).

model.recurrent=False cuts the recurrence: every step starts from the zero
state (MemorylessCell), so step t's output depends on input t alone, with
the same parameters and readout (the control for what the state carries).

Dropout (model.dropout), on the input (unless model.rnn_input_dropout is
False), between stacked layers and on the output (the last step's
features); the recurrent state is masked only by 'variational' and
'per_step_recurrent' (STATE_DROPOUT):
- 'standard': a fresh mask at every time step (Zaremba et al. 2014's
  non-recurrent dropout).
- 'locked': one mask per sequence, shared by every time step.
- 'variational' (Gal & Ghahramani 2016): the same, and in each recurrent
  layer one more mask per sequence on the state h fed back into the cell at
  every step (the LSTM's cell state c is not masked).
- 'per_step_recurrent': the same connections as 'variational', each with a
  fresh mask at every time step: 'standard' on the non-recurrent ones and,
  in each recurrent layer, a fresh mask on h at every step (the key is
  split once per step inside the scan). It differs from 'variational' only
  in not tying the masks across time.
"""
import functools
from typing import Callable, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from dlexp.errors import ConfigError
from dlexp.layers.dropout import STATE_DROPOUT, sequence_mask, step_mask
from dlexp.models.cnn import check_spatial_input
from dlexp.models.config import MODELS, ModelSpec, Parts, make_parts
from dlexp.models.mlp import classifier

CELLS = {'lstm': nn.LSTMCell, 'gru': nn.GRUCell}


class StateDropoutCell(nn.RNNCellBase):
  """Runs `cell` on its carried state with h multiplied by a mask that the
  carry holds unchanged from step to step: carry = (cell's carry, mask).

  Only the h fed into the recurrent matmuls is masked: the LSTM's h enters
  nothing else (its c is carried unmasked); the GRU's h also enters its
  update z * h, which keeps the unmasked h (VariationalGRUCell).
  """
  cell: nn.RNNCellBase

  def __call__(self, carry, x):
    state, mask = carry
    state, y = _masked_step(self.cell, state, x, mask)
    return (state, mask), y

  @property
  def num_feature_axes(self) -> int:
    return self.cell.num_feature_axes


class PerStepStateDropoutCell(nn.RNNCellBase):
  """StateDropoutCell with a fresh mask at every step: carry = (cell's
  carry, key, rate). Each step splits the key, draws its mask on h from one
  half and carries the other on; the rate (a traced scalar) rides along
  unchanged. The same h is masked as in StateDropoutCell."""
  cell: nn.RNNCellBase

  def __call__(self, carry, x):
    state, key, rate = carry
    key, step_key = jax.random.split(key)
    h = state if isinstance(self.cell, VariationalGRUCell) else state[1]
    state, y = _masked_step(self.cell, state, x,
                            step_mask(step_key, rate, h.shape))
    return (state, key, rate), y

  @property
  def num_feature_axes(self) -> int:
    return self.cell.num_feature_axes


def _masked_step(cell, state, x, mask):
  """One step of `cell` with the h fed into its recurrent matmuls masked."""
  if isinstance(cell, VariationalGRUCell):
    return cell(state, x, mask)
  # LSTM: (c, h)
  return cell((state[0], state[1] * mask.astype(state[1].dtype)), x)


class MemorylessCell(nn.RNNCellBase):
  """Runs `cell` on a zero state at every step: the carry it is given is
  dropped, so nothing reaches step t from earlier steps (model.recurrent
  False). The recurrent kernels stay in the tree, unused, so both settings
  have the same parameters."""
  cell: nn.RNNCellBase

  def __call__(self, carry, x):
    return self.cell(jax.tree_util.tree_map(jnp.zeros_like, carry), x)

  def initialize_carry(self, rng, input_shape):
    return self.cell.initialize_carry(rng, input_shape)

  @property
  def num_feature_axes(self) -> int:
    return self.cell.num_feature_axes


class VariationalGRUCell(nn.GRUCell):
  """flax's GRUCell (same parameters, same names) with Gal & Ghahramani's
  mask on h in the three recurrent matmuls only. Hand-written because
  flax's cell applies the matmuls and the update (1 - z) * n + z * h to one
  h: masking its carry would also drop and rescale (1 / keep) the state it
  carries forward, which compounds over the steps of a sequence."""

  @nn.compact
  def __call__(self, carry, inputs, mask=None):  # pylint: disable=arguments-differ
    h = carry
    hm = h if mask is None else h * mask.astype(h.dtype)
    dense_h = functools.partial(
        nn.Dense, features=h.shape[-1], use_bias=False, dtype=self.dtype,
        param_dtype=self.param_dtype, kernel_init=self.recurrent_kernel_init,
        bias_init=self.bias_init)
    dense_i = functools.partial(
        nn.Dense, features=h.shape[-1], use_bias=True, dtype=self.dtype,
        param_dtype=self.param_dtype, kernel_init=self.kernel_init,
        bias_init=self.bias_init)
    r = self.gate_fn(dense_i(name='ir')(inputs) + dense_h(name='hr')(hm))
    z = self.gate_fn(dense_i(name='iz')(inputs) + dense_h(name='hz')(hm))
    n = self.activation_fn(dense_i(name='in')(inputs)
                           + r * dense_h(name='hn', use_bias=True)(hm))
    new_h = (1.0 - z) * n + z * h
    return new_h, new_h


class Recurrent(nn.Module):
  """One recurrent layer: a cell scanned over the time axis of (N, L, C);
  state_dropout masks h once per 'sequence' (StateDropoutCell) or with a
  fresh mask at every 'step' (PerStepStateDropoutCell); '' not at all."""
  cell: str
  features: int
  bias_init: Callable
  kernel_init: Optional[Callable] = None
  state_dropout: str = ''  # '', 'sequence' or 'step' (STATE_DROPOUT values)
  reverse: bool = False  # read the sequence backwards (outputs in order)
  recurrent: bool = True  # False: a zero state at every step (no memory)

  @nn.compact
  def __call__(self, x, rate=0.0, train: bool = False):
    if self.state_dropout not in ('', 'sequence', 'step'):
      raise ConfigError(f'state_dropout={self.state_dropout!r} not allowed; '
                        "allowed: '', 'sequence', 'step'")
    init = {} if self.kernel_init is None else {'kernel_init': self.kernel_init}
    kind = (VariationalGRUCell if self.state_dropout and self.cell == 'gru'
            else CELLS[self.cell])
    cell = kind(self.features, bias_init=self.bias_init, name='cell', **init)
    scan = dict(reverse=self.reverse, keep_order=True)
    if not self.recurrent:
      return nn.RNN(MemorylessCell(cell), **scan)(x)
    if not self.state_dropout:
      return nn.RNN(cell, **scan)(x)
    # The initial carry is zeros; the key is unused by flax's cells.
    state = cell.initialize_carry(jax.random.key(0), x[:, 0].shape)
    if self.state_dropout == 'step' and train:
      carry = (state, self.make_rng('dropout'),
               jnp.asarray(rate, jnp.float32))
      return nn.RNN(PerStepStateDropoutCell(cell), **scan)(
          x, initial_carry=carry)
    # One mask per sequence; outside training all ones, for either kind.
    mask = sequence_mask(self, rate, (x.shape[0], self.features), train)
    return nn.RNN(StateDropoutCell(cell), **scan)(
        x, initial_carry=(state, mask))


class RNNClassifier(nn.Module):
  parts: Parts
  cell: str
  sizes: Tuple[int, ...]
  head: Tuple[int, ...]
  num_classes: int
  # None keeps flax's defaults (LeCun normal input, orthogonal recurrent).
  kernel_init: Optional[Callable] = None
  input_dropout: bool = True
  bidirectional: bool = False
  readout: str = 'last'
  recurrent: bool = True

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
      layer = lambda reverse, name, h=h, size=size: Recurrent(
          self.cell, size, self.parts.bias_init, self.kernel_init,
          state_dropout=STATE_DROPOUT.get(self.parts.dropout, ''),
          reverse=reverse,
          recurrent=self.recurrent, name=name)(h, dropout_rate, train)
      h = layer(False, f'{self.cell}{i}')
      if self.bidirectional:
        h = jnp.concatenate([h, layer(True, f'{self.cell}{i}_reverse')], -1)
    # Dropping the read outputs equals locked dropout on the outputs.
    return classifier(self, self.parts, self._read(h), self.head,
                      self.num_classes, train=train, rate=dropout_rate,
                      drop_input=True, prefix='head_')

  def _read(self, h):
    """What the classifier sees of the last layer's outputs h (N, L, F)."""
    if self.readout == 'all':
      return h.reshape(h.shape[0], -1)
    if self.bidirectional:  # each direction's final output
      half = h.shape[-1] // 2
      return jnp.concatenate([h[:, -1, :half], h[:, 0, half:]], -1)
    return h[:, -1]


def _builder(fixed_cell: str):
  def build(model_cfg, num_classes: int, input_shape) -> RNNClassifier:
    check_spatial_input(model_cfg.name, input_shape)
    parts = make_parts(model_cfg)
    sizes = tuple(model_cfg.hidden) or (model_cfg.rnn_hidden,)
    init = None if model_cfg.kernel_init == 'default' else parts.kernel_init
    return RNNClassifier(parts, fixed_cell or model_cfg.cell, sizes,
                         tuple(model_cfg.head), num_classes, init,
                         bool(model_cfg.rnn_input_dropout),
                         bool(model_cfg.bidirectional), model_cfg.readout,
                         bool(model_cfg.recurrent))
  return build


_TINY = dict(rnn_hidden=16)
for _name, _cell in (('rnn', ''), ('lstm', 'lstm'), ('gru', 'gru')):
  MODELS.register(_name, ModelSpec(_builder(_cell), vmap_friendly=True,
                                   tiny=_TINY, recurrent=True,
                                   norm_after=False))
