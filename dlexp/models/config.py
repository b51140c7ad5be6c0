"""The `config.model` section, the MODELS registry and the layer factories
(`Parts`) that every model family builds from.

Sentinels (ml_collections cannot hold None):
- kernel_init 'default': the family's own default for the activation
  (He normal for the ReLU family, LeCun normal for SELU, Glorot uniform for
  saturating ones; recurrent cells keep flax's LeCun/orthogonal defaults).
- norm 'default': the family's own default ('batch' for resnet and inception,
  which are built around it; 'none' elsewhere).
- variant '': the family's default variant; hidden ()/head (): family default
  (hidden () = depth x width); init_value nan: 'constant' init draws one value.
"""
import dataclasses
import math
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import ml_collections

from dlexp.errors import ConfigError
from dlexp.layers import (Activation, Dense, Dropout, make_activation,
                          make_bias_init, make_dropout, make_initializer,
                          make_norm)
from dlexp.layers.conv import CONV_IMPLS, Conv, MaxPool
from dlexp.layers.dropout import STATE_DROPOUT
from dlexp.registry import Registry

# Paths of the numeric knobs that change no shapes: the engine passes them
# traced, per grid member, so a dropout-rate grid shares one compile.
TRACED = ('model.dropout_rate',)

NORMS = ('default', 'none', 'batch')
NORM_POSITIONS = ('before', 'after')
CELLS = ('lstm', 'gru')
READOUTS = ('last', 'all')
# Family switches: model field -> what it switches off, for the error that a
# family without it raises (ModelSpec.switches lists a family's own).
SWITCHES = {
    'lrn': "alexnet's local response normalization",
    'bottleneck': "inception's 1x1 bottlenecks",
    'stacked_3x3': "vgg's stacked 3x3 convs",
}
# model.inception_kernels default: the paper's parallel 1x1, 3x3 and 5x5
# branches.
INCEPTION_KERNELS = (1, 3, 5)
# Activations that saturate (Glorot & Bengio's case) and the self-normalizing
# one (LeCun normal is part of SELU's fixed-point argument); everything else is
# ReLU-like and gets He normal.
_GLOROT_ACTIVATIONS = ('tanh', 'sigmoid', 'softplus', 'linear')


def defaults() -> ml_collections.ConfigDict:
  """Default section: the notes' exercise MLP (20 hidden layers of 100)."""
  return ml_collections.ConfigDict(dict(**_unit_defaults(),
                                        **_architecture_defaults()))


def _unit_defaults() -> Dict[str, Any]:
  """What each layer computes: activation, initialization, normalization,
  dropout."""
  return dict(
      name='mlp',  # A model family.
      activation='relu',  # Activation of every hidden layer.
      leaky_slope=0.01,  # leaky_relu: slope for x < 0.
      elu_alpha=1.0,  # elu: saturation value -alpha for x -> -inf.
      rrelu_lower=0.125,  # rrelu: lower bound of the random slope.
      rrelu_upper=0.3333333,  # rrelu: upper bound of the random slope.
      prelu_init=0.25,  # prelu: initial learned slope.
      kernel_init='default',  # Kernel initializer; 'default' = the family's
                              # choice for the activation (He / LeCun /
                              # Glorot).
      bias_init=0.0,  # Constant every bias starts at.
      init_gain=1.0,  # Multiplies the initial weights' standard deviation.
      init_value=math.nan,  # kernel_init 'constant': the value; nan = one
                            # He-normal draw.
      norm='default',  # Normalization after each dense / conv layer.
      norm_position='before',  # Norm layer before the activation (dense ->
                               # norm -> act, Ioffe & Szegedy) or after it
                               # (dense -> act -> norm).
      bn_momentum=0.9,  # BatchNorm running-average momentum.
      bn_epsilon=1e-5,  # BatchNorm epsilon.
      dropout='standard',  # Dropout variant.
      dropout_rate=0.0,  # Dropout (or DropConnect) rate; 0 = off.
  )


def _architecture_defaults() -> Dict[str, Any]:
  """The network's shape, per family."""
  return dict(
      depth=20,  # mlp: hidden layers (when model.hidden is empty); 0 = none
                 # (logistic regression).
      width=100,  # mlp: units per hidden layer (when model.hidden is empty).
      hidden=(),  # Layer sizes: mlp hidden layers (empty = depth x width), rnn
                  # stacked recurrent layers (empty = one of rnn_hidden).
      width_mult=1.0,  # Conv families: scales channels and default head
                       # widths.
      variant='',  # Family variant, e.g. 'vgg16', 'resnet20' (see Models);
                   # '' = family default.
      plain=False,  # resnet: remove the skip connections.
      residual=False,  # mlp: identity skip around each hidden layer whose
                       # input and output widths are equal (see mlp.py).
      lrn=True,  # alexnet: local response normalization after conv1 and
                 # conv2.
      bottleneck=True,  # inception: 1x1 reduce convs before the 3x3 and 5x5
                        # branches; False = they convolve the module's input.
      stacked_3x3=True,  # vgg: each block's stack of n 3x3 convs; False =
                         # one (2n+1)x(2n+1) conv, the same receptive field.
      inception_kernels=(1, 3, 5),  # inception: kernel sizes of each
                                    # module's parallel conv branches; one
                                    # odd size (k,) = one 1x1 reduce -> kxk
                                    # branch, parameters matched.
      bidirectional=False,  # rnn: each recurrent layer also reads the
                            # sequence backwards (outputs concatenated).
      readout='last',  # rnn: the classifier reads the 'last' step's output
                       # or 'all' steps' outputs flattened.
      recurrent=True,  # rnn: False cuts the recurrence (each step starts
                       # from a zero state: a per-step network, no memory).
      head=(),  # Dense head sizes of conv and rnn classifiers; empty = family
                # default.
      cell='lstm',  # rnn: recurrent cell.
      rnn_input_dropout=True,  # rnn, lstm, gru: dropout on the input
                               # features too (off for one-channel inputs,
                               # where a per-sequence mask drops it whole).
      rnn_hidden=128,  # rnn: units of the recurrent layer when model.hidden
                       # is empty.
      conv_impl='auto',  # Convolution / pooling implementation
                         # (dlexp/layers/conv.py).
  )


def _no_variants(variant: str) -> None:
  if variant:
    raise ConfigError(f'model.variant={variant!r} not allowed for this model; '
                      "allowed: '' (it has no variants)")


def named_variants(family: str, names, default: str) -> Callable[[str], None]:
  """A ModelSpec.check_variant accepting '' (= `default`) and `names`."""
  def check(variant: str) -> None:
    if variant and variant not in names:
      raise ConfigError(f'model.variant={variant!r} not allowed for {family}; '
                        f'allowed: {", ".join(names)} or "" (= {default})')
  return check


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """A registered model family.

  builder(model_cfg, num_classes, input_shape) -> nn.Module gets a validated
  section. vmap_friendly: the engine may vmap grid members through it (false
  for conv nets, whose batched convs are slow). check_variant raises a
  ConfigError for a variant the family does not have. tiny: config overrides
  for a small instance that tests and smoke runs train in seconds.
  recurrent: the family has a recurrent state that model.dropout
  'variational' and 'per_step_recurrent' mask. uses_residual:
  model.residual applies (mlp).
  norm_after: its norm layers can follow the activation
  (model.norm_position 'after'; not where a residual sum sits between).
  switches: the SWITCHES fields the family reads (False elsewhere is an
  error, not silently ignored).
  """
  builder: Callable
  vmap_friendly: bool
  check_variant: Callable[[str], None] = _no_variants
  tiny: Mapping = dataclasses.field(default_factory=dict)
  uses_plain: bool = False
  recurrent: bool = False
  uses_residual: bool = False
  norm_after: bool = True  # model.norm_position 'after' is supported
  switches: Tuple[str, ...] = ()


MODELS = Registry('model')


def default_kernel_init(activation: str) -> str:
  if activation == 'selu':
    return 'lecun_normal'
  if activation in _GLOROT_ACTIVATIONS:
    return 'glorot_uniform'
  return 'he_normal'


def resolved_norm(model_cfg, family_default: str) -> str:
  return family_default if model_cfg.norm == 'default' else model_cfg.norm


def _norm_section(model_cfg, norm: str) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(norm=norm,
                                        bn_momentum=model_cfg.bn_momentum,
                                        bn_epsilon=model_cfg.bn_epsilon))


def _positive_ints(key: str, value) -> None:
  if not (isinstance(value, tuple)
          and all(isinstance(v, int) and v >= 1 for v in value)):
    raise ConfigError(f'model.{key}={value!r} not allowed; need a tuple of '
                      'ints >= 1 (empty = family default)')


def _check_sizes(model_cfg) -> None:
  """depth, width, rnn_hidden, hidden, head and width_mult."""
  for key in ('depth', 'width', 'rnn_hidden'):
    value, least = model_cfg[key], 0 if key == 'depth' else 1
    if not (isinstance(value, int) and value >= least):
      raise ConfigError(f'model.{key}={value!r} not allowed; need an int >= '
                        f'{least}')
  _positive_ints('hidden', model_cfg.hidden)
  _positive_ints('head', model_cfg.head)
  width_mult = float(model_cfg.width_mult)
  if not (math.isfinite(width_mult) and width_mult > 0):
    raise ConfigError(f'model.width_mult={width_mult} not allowed; need a '
                      'finite float > 0')


def _check_choices(model_cfg) -> None:
  """The fields that name one of a fixed set (norm, cell, readout, ...)."""
  for key, allowed in (('norm', NORMS), ('norm_position', NORM_POSITIONS),
                       ('cell', CELLS), ('readout', READOUTS),
                       ('conv_impl', CONV_IMPLS)):
    if model_cfg[key] not in allowed:
      raise ConfigError(f'model.{key}={model_cfg[key]!r} not allowed; '
                        f'allowed: {", ".join(allowed)}')


def _check_structure(model_cfg, spec) -> None:
  """Dropout, norm placement and input dropout options the family `spec`
  supports."""
  if model_cfg.dropout in STATE_DROPOUT and not spec.recurrent:
    # Without a recurrent state it would only be 'locked' (or 'standard')
    # under a name that promises more.
    raise ConfigError(f'model.dropout={model_cfg.dropout!r} not allowed for '
                      f'model {model_cfg.name!r}: it masks the recurrent '
                      'state of rnn, lstm and gru; use '
                      + _WITHOUT_STATE.get(model_cfg.dropout,
                                           "'locked' or 'standard'"))
  if model_cfg.norm_position == 'after':
    if model_cfg.norm != 'batch':
      raise ConfigError(f"model.norm_position='after' places a norm layer "
                        f'after each activation; it needs model.norm=batch, '
                        f'not {model_cfg.norm!r}')
    if not spec.norm_after:
      raise ConfigError(f"model.norm_position='after' not allowed for model "
                        f'{model_cfg.name!r}: its norm layers sit where its '
                        "architecture puts them; use 'before'")
  if not model_cfg.rnn_input_dropout and not spec.recurrent:
    raise ConfigError(f'model.rnn_input_dropout=False not allowed for model '
                      f'{model_cfg.name!r}: only rnn, lstm and gru drop '
                      'their input features')


def _check_switches(model_cfg, spec) -> None:
  """Skip connections, on/off switches and recurrent-only options the
  family `spec` supports."""
  if model_cfg.plain and not spec.uses_plain:
    raise ConfigError(f'model.plain=True not allowed for model '
                      f'{model_cfg.name!r}; it removes the skip connections '
                      'of resnet only')
  if model_cfg.residual and not spec.uses_residual:
    raise ConfigError(f'model.residual=True not allowed for model '
                      f'{model_cfg.name!r}; it adds skips to mlp only (resnet '
                      'has its own: model.plain=False)')
  for key, what in SWITCHES.items():
    if not isinstance(model_cfg[key], bool):
      raise ConfigError(f'model.{key}={model_cfg[key]!r} must be True or '
                        'False')
    if not model_cfg[key] and key not in spec.switches:
      raise ConfigError(f'model.{key}=False not allowed for model '
                        f'{model_cfg.name!r}; it switches off {what} only')
  for key in ('bidirectional', 'recurrent'):
    if not isinstance(model_cfg[key], bool):
      raise ConfigError(f'model.{key}={model_cfg[key]!r} must be True or '
                        'False')
  for key, default in (('bidirectional', False), ('readout', 'last'),
                       ('recurrent', True)):
    if model_cfg[key] != default and not spec.recurrent:
      raise ConfigError(f'model.{key}={model_cfg[key]!r} not allowed for '
                        f'model {model_cfg.name!r}; it configures rnn, lstm '
                        'and gru only')


# What masks the same non-recurrent connections as each STATE_DROPOUT variant
# where there is no recurrent state to mask.
_WITHOUT_STATE = {'variational': "'locked' for one mask per sequence",
                  'per_step_recurrent': "'standard' for a fresh mask per "
                                        'step'}


def _check_recurrence(model_cfg) -> None:
  """Options that need the recurrent state that model.recurrent=False
  removes."""
  if model_cfg.recurrent:
    return
  if model_cfg.dropout in STATE_DROPOUT:
    raise ConfigError(f'model.dropout={model_cfg.dropout!r} masks the '
                      'recurrent state, which model.recurrent=False removes; '
                      "use 'locked' or 'standard'")
  if model_cfg.bidirectional:
    raise ConfigError('model.bidirectional=True reads the sequence both ways '
                      'through the recurrent state, which '
                      'model.recurrent=False removes; set one of them')


def _check_inception_kernels(model_cfg) -> None:
  """model.inception_kernels: the paper's (1, 3, 5) or one odd size, for
  inception only, whose 1x1 reduce sets the single branch's parameters."""
  kernels = model_cfg.inception_kernels
  if kernels == INCEPTION_KERNELS:
    return
  single = isinstance(kernels, tuple) and len(kernels) == 1
  size = kernels[0] if single else None
  if not (isinstance(size, int) and not isinstance(size, bool)
          and size >= 1 and size % 2 == 1):
    raise ConfigError(f'model.inception_kernels={kernels!r} not allowed; '
                      'need (1, 3, 5) (the parallel branches) or one odd '
                      'size such as (3,)')
  if model_cfg.name != 'inception':
    raise ConfigError(f'model.inception_kernels={kernels!r} not allowed for '
                      f'model {model_cfg.name!r}; it sets the kernel sizes '
                      'of inception modules only')
  if not model_cfg.bottleneck:
    raise ConfigError(f'model.inception_kernels={kernels!r} needs '
                      'model.bottleneck=True: the 1x1 reduce width is what '
                      "matches the single branch's parameters to the "
                      "parallel module's")


def _check_layer_knobs(model_cfg) -> None:
  """Activation, dropout, norm and initializer fields, by building them: the
  layer factories check their own knobs (names, ranges, finiteness)."""
  make_activation(model_cfg)
  make_dropout(model_cfg)
  make_norm(_norm_section(model_cfg, resolved_norm(model_cfg, 'none')), 'conv')
  init = model_cfg.kernel_init
  make_initializer('he_normal' if init == 'default' else init,
                   model_cfg.init_gain, model_cfg.init_value)
  make_bias_init(model_cfg.bias_init)


def validate(model_cfg) -> None:
  """Raises ConfigError (one line) for the first value that is not allowed."""
  spec = MODELS.get(model_cfg.name)
  spec.check_variant(model_cfg.variant)
  _check_sizes(model_cfg)
  _check_choices(model_cfg)
  _check_structure(model_cfg, spec)
  _check_switches(model_cfg, spec)
  _check_recurrence(model_cfg)
  _check_inception_kernels(model_cfg)
  _check_layer_knobs(model_cfg)


def _fields(module) -> Tuple[Tuple[str, object], ...]:
  return tuple((f.name, getattr(module, f.name))
               for f in dataclasses.fields(module)
               if f.init and f.name not in ('parent', 'name'))


@dataclasses.dataclass(frozen=True)
class Parts:
  """Layer factories configured by one model section.

  Call the methods inside a parent's @nn.compact method: each call makes a new
  submodule of that parent (its own PReLU slopes, BN statistics, names).
  """
  activation: Tuple
  norm: Tuple
  dropout: str
  dropconnect: bool
  kernel_init: Callable
  bias_init: Callable
  conv_impl: str
  has_norm: bool
  norm_after: bool = False  # norm layer after the activation

  def norm_act(self, x, train: bool, norm_name: str, act_name: str,
               activate: bool = True):
    """[norm] and [activation] in the configured order (norm_position)."""
    if self.has_norm and not (self.norm_after and activate):
      x = self.norm_layer(name=norm_name)(x, train)
    if activate:
      x = self.act(name=act_name)(x, train)
      if self.has_norm and self.norm_after:
        x = self.norm_layer(name=norm_name)(x, train)
    return x

  def act(self, name: Optional[str] = None) -> Activation:
    return Activation(**dict(self.activation), name=name)

  def norm_layer(self, name: Optional[str] = None):
    norm_cls, kwargs = self.norm
    return norm_cls(**dict(kwargs), name=name)

  def drop(self, name: Optional[str] = None, variant: str = '') -> Dropout:
    return Dropout(variant=variant or self.dropout, name=name)

  def dense(self, features: int, name: Optional[str] = None,
            dropconnect: bool = False) -> Dense:
    """A Dense layer; DropConnect only if configured and `dropconnect` (the
    layer consumes units that unit dropout would have dropped)."""
    return Dense(features, kernel_init=self.kernel_init,
                 bias_init=self.bias_init,
                 dropconnect=self.dropconnect and dropconnect, name=name)

  def conv(self, features: int, kernel_size=3, strides=1, padding='SAME',
           use_bias: bool = True, name: Optional[str] = None) -> Conv:
    return Conv(features, kernel_size, strides, padding, use_bias,
                kernel_init=self.kernel_init, bias_init=self.bias_init,
                impl=self.conv_impl, name=name)

  def pool(self, window=2, strides=None, padding='VALID',
           name: Optional[str] = None) -> MaxPool:
    return MaxPool(window, strides, padding, self.conv_impl, name=name)


def make_parts(model_cfg, norm_default: str = 'none',
               init_default: str = '') -> Parts:
  """Parts for a family whose defaults are `norm_default` / `init_default`
  ('' = by activation, see default_kernel_init)."""
  norm_cfg = _norm_section(model_cfg, resolved_norm(model_cfg, norm_default))
  norm = make_norm(norm_cfg, 'conv')
  init_default = init_default or default_kernel_init(model_cfg.activation)
  return Parts(
      activation=_fields(make_activation(model_cfg)),
      norm=(type(norm), _fields(norm)),
      dropout=make_dropout(model_cfg).variant,
      dropconnect=model_cfg.dropout == 'dropconnect',
      kernel_init=make_initializer(model_cfg.kernel_init, model_cfg.init_gain,
                                   model_cfg.init_value, default=init_default),
      bias_init=make_bias_init(model_cfg.bias_init),
      conv_impl=model_cfg.conv_impl,
      has_norm=norm.norm != 'none',
      norm_after=model_cfg.norm_position == 'after')


def scaled(channels: int, width_mult: float) -> int:
  """A family's default width scaled by model.width_mult, at least 1."""
  return max(1, int(round(channels * width_mult)))
