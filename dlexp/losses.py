"""Per-example losses and metrics for classification.

Owns `config.loss`. `make_loss(loss_cfg, num_classes)` returns
`loss_fn(logits, labels, hp) -> (N,)`; the engine averages over the batch.

Labels are integer class ids of shape (N,), or float targets with the logits'
shape (one-hot, smoothed or soft). Conventions:
- 'cross_entropy': softmax cross-entropy. Label smoothing (traced) mixes the
  targets with the uniform distribution: (1 - eps) * onehot + eps / K.
- 'binary_cross_entropy' ('bce'): sigmoid cross-entropy. With one output logit
  (N, 1) or (N,) the label is P(class 1) (ids 0/1); the model should then emit
  `output_dim(loss_cfg, num_classes) == 1` logit for two classes. With K > 1
  logits each class is an independent one-vs-rest sigmoid against the one-hot
  target, summed over classes. Smoothing maps a target y to
  y * (1 - eps) + eps / 2.
- 'mse', 'mae', 'huber': regression of the raw logits (no softmax) onto the
  one-hot (smoothed) targets, averaged over the K outputs.
- 'focal' (Lin et al. 2017): -sum_k t_k (1 - p_k)^gamma log p_k with softmax
  p; gamma = 0 is cross-entropy. The alpha balance is `class_weights`.
- `class_weights` (empty = none) multiplies each example's loss by the weight
  of its (argmax) label, for every loss. The batch mean is then
  sum(w_i l_i) / N, not normalized by sum(w_i).

Regression: a dataset of float targets (N,) or (N, d) has num_classes 0
(see dlexp.data.Dataset); `make_loss(loss_cfg, 0)` then takes only mse, mae
or huber, regressing the d outputs onto the targets as they are (no one-hot,
no smoothing), and `make_metrics(loss_cfg, regression=True)` gives 'mse' and
'mae' (no accuracy).
"""
from typing import Callable, Dict, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import optax

from dlexp.errors import ConfigError
from dlexp.registry import Registry

LOSSES = Registry('loss')

TRACED = ('loss.label_smoothing', 'loss.focal_gamma', 'loss.huber_delta')

# Losses that score class probabilities rather than regress outputs.
CLASSIFICATION = ('cross_entropy', 'binary_cross_entropy', 'bce', 'focal')
REGRESSION = ('mse', 'mae', 'huber')


def defaults() -> ml_collections.ConfigDict:
  """The `config.loss` section."""
  return ml_collections.ConfigDict(dict(
      name='cross_entropy',  # A loss.
      label_smoothing=0.0,   # Mixes the targets with the uniform distribution.
      focal_gamma=2.0,       # focal: focusing exponent.
      huber_delta=1.0,       # huber: quadratic-to-linear threshold.
      class_weights=(),      # One float per class; empty = unweighted.
  ))


def validate(cfg: ml_collections.ConfigDict) -> None:
  """Checks the `config.loss` section; raises ConfigError."""
  LOSSES.get(cfg.name)
  if not 0.0 <= cfg.label_smoothing < 1.0:
    raise ConfigError(
        f'loss.label_smoothing={cfg.label_smoothing!r} must be in [0, 1)')
  if not cfg.focal_gamma >= 0:
    raise ConfigError(f'loss.focal_gamma={cfg.focal_gamma!r} must be >= 0')
  if not cfg.huber_delta > 0:
    raise ConfigError(f'loss.huber_delta={cfg.huber_delta!r} must be > 0')
  w = tuple(cfg.class_weights)
  if not all(isinstance(x, (int, float)) and x >= 0 for x in w):
    raise ConfigError(
        f'loss.class_weights={w!r} must be numbers >= 0 (empty = unweighted)')


def output_dim(loss_cfg: ml_collections.ConfigDict, num_classes: int,
               target_dim: int = 1) -> int:
  """Outputs the model should emit: 1 logit for binary cross-entropy on 2
  classes; `target_dim` for regression (num_classes 0)."""
  if num_classes == 0:
    return target_dim
  if loss_cfg.name in ('binary_cross_entropy', 'bce') and num_classes <= 2:
    return 1
  return num_classes


# ---------------------------------------------------------------------------
# Helpers.

def _hp(hp: Mapping, cfg, key: str):
  v = (hp or {}).get('loss.' + key, cfg[key])
  return jnp.asarray(v, jnp.float32)


def _soft(labels, logits) -> bool:
  """Float targets with the logits' shape (one-hot or soft)."""
  return labels.ndim == logits.ndim and logits.ndim > 1 and (
      labels.shape[-1] == logits.shape[-1] and logits.shape[-1] > 1)


def _targets(logits, labels, eps):
  """(N, K) float targets, smoothed towards uniform by `eps`."""
  if _soft(labels, logits):
    t = labels.astype(jnp.float32)
  else:
    t = jax.nn.one_hot(labels, logits.shape[-1], dtype=jnp.float32)
  return optax.smooth_labels(t, eps)


def _class_ids(logits, labels):
  """Integer class per example (argmax of soft targets)."""
  if _soft(labels, logits):
    return jnp.argmax(labels, axis=-1)
  if labels.ndim > 1:
    labels = labels.reshape(labels.shape[0])  # (N, 1) single-logit labels.
  if jnp.issubdtype(labels.dtype, jnp.floating):
    # Binary probabilities for a single-logit model.
    return (labels > 0.5).astype(jnp.int32)
  return labels.astype(jnp.int32)


# ---------------------------------------------------------------------------
# Losses: fn(logits, labels, v) with v the traced values.

@LOSSES.register('cross_entropy')
def cross_entropy(logits, labels, v):
  # Exact one-hot targets at eps == 0 give exactly the sparse cross-entropy.
  t = _targets(logits, labels, v['label_smoothing'])
  return optax.softmax_cross_entropy(logits.astype(jnp.float32), t)


def _bce(logits, labels, v):
  logits = logits.astype(jnp.float32)
  eps = v['label_smoothing']
  if logits.ndim == 1 or logits.shape[-1] == 1:
    logits = logits.reshape(logits.shape[0])
    t = labels.reshape(labels.shape[0]).astype(jnp.float32)
  else:
    t = _targets(logits, labels, 0.0)
  # Each output is its own two-class problem: smoothing towards 1/2.
  t = t * (1.0 - eps) + eps / 2.0
  xent = optax.sigmoid_binary_cross_entropy(logits, t)
  return xent if xent.ndim == 1 else jnp.sum(xent, axis=-1)


LOSSES.register('binary_cross_entropy', _bce)
LOSSES.register('bce', _bce)


@LOSSES.register('focal')
def focal(logits, labels, v):
  # Hand-written: optax's sigmoid_focal_loss is the one-vs-rest sigmoid form;
  # this is the softmax form of Lin et al.
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  t = _targets(logits, labels, v['label_smoothing'])
  # (1 - p)^gamma as exp(gamma * log(1 - p)); the floor keeps log finite (and
  # its gradient zero) when p rounds to 1, and gamma = 0 gives exactly 1.
  one_minus_p = jnp.maximum(-jnp.expm1(logp), 1e-30)
  w = jnp.exp(v['focal_gamma'] * jnp.log(one_minus_p))
  return -jnp.sum(t * w * logp, axis=-1)


@LOSSES.register('mse')
def mse(logits, labels, v):
  t = _targets(logits, labels, v['label_smoothing'])
  return jnp.mean(optax.squared_error(logits.astype(jnp.float32), t), -1)


@LOSSES.register('mae')
def mae(logits, labels, v):
  t = _targets(logits, labels, v['label_smoothing'])
  return jnp.mean(jnp.abs(logits.astype(jnp.float32) - t), axis=-1)


@LOSSES.register('huber')
def huber(logits, labels, v):
  t = _targets(logits, labels, v['label_smoothing'])
  # 0.5 e^2 inside [-d, d], d (|e| - d/2) outside (continuous at |e| = d).
  err = optax.huber_loss(logits.astype(jnp.float32), t, delta=v['huber_delta'])
  return jnp.mean(err, axis=-1)


# Per-output errors of the regression losses on float targets.
_ERRORS = {
    'mse': lambda y, t, v: optax.squared_error(y, t),
    'mae': lambda y, t, v: jnp.abs(y - t),
    'huber': lambda y, t, v: optax.huber_loss(y, t, delta=v['huber_delta']),
}


def _regression(name: str) -> Callable:
  """fn(outputs, targets, v) -> (N,): the mean error over the outputs."""
  def fn(outputs, targets, v):
    y = outputs.astype(jnp.float32)
    t = targets.astype(jnp.float32).reshape(y.shape)
    return jnp.mean(_ERRORS[name](y, t, v), axis=-1)
  return fn


def make_loss(loss_cfg: ml_collections.ConfigDict,
              num_classes: int) -> Callable:
  """loss_fn(logits, labels, hp) -> per-example loss (N,); num_classes 0
  means float regression targets."""
  validate(loss_cfg)
  fn = LOSSES.get(loss_cfg.name)
  if num_classes == 0:
    check_regression(loss_cfg)
    fn = _regression(loss_cfg.name)
  weights = tuple(float(w) for w in loss_cfg.class_weights)
  if weights and len(weights) != num_classes:
    raise ConfigError(
        f'loss.class_weights has {len(weights)} values; the data has '
        f'{num_classes} classes (need one weight per class, or empty)')
  keys = [p.split('.', 1)[1] for p in TRACED]

  def loss_fn(logits, labels, hp=None):
    v = {k: _hp(hp, loss_cfg, k) for k in keys}
    loss = fn(logits, labels, v)
    if weights:
      w = jnp.asarray(weights, jnp.float32)[_class_ids(logits, labels)]
      loss = loss * w
    return loss

  return loss_fn


# ---------------------------------------------------------------------------
# Metrics.

def accuracy(logits, labels):
  """1.0 where the predicted class is the label (per example)."""
  if logits.ndim == 1 or logits.shape[-1] == 1:
    pred = (logits.reshape(logits.shape[0]) > 0).astype(jnp.int32)
  else:
    pred = jnp.argmax(logits, axis=-1)
  return (pred == _class_ids(logits, labels)).astype(jnp.float32)


def _mse_metric(logits, labels):
  return mse(logits, labels, {'label_smoothing': 0.0})


def _mae_metric(logits, labels):
  return mae(logits, labels, {'label_smoothing': 0.0})


def check_regression(loss_cfg: ml_collections.ConfigDict) -> None:
  """Float targets take a regression loss and no class weights."""
  if loss_cfg.name not in REGRESSION:
    raise ConfigError(f'loss.name={loss_cfg.name!r} needs class labels; '
                      f'float regression targets take {", ".join(REGRESSION)}')
  if tuple(loss_cfg.class_weights):
    raise ConfigError(f'loss.class_weights={tuple(loss_cfg.class_weights)!r} '
                      'needs class labels; leave it empty for regression '
                      'targets')


def make_metrics(loss_cfg: ml_collections.ConfigDict,
                 regression: bool = False) -> Dict[str, Callable]:
  """name -> fn(logits, labels) -> per-example values (N,).

  Classes: always 'accuracy'; the regression losses add 'mse' and 'mae'
  against the unsmoothed one-hot targets. Float targets (`regression`):
  'mse' and 'mae' of the outputs against the targets.
  """
  LOSSES.get(loss_cfg.name)
  if regression:
    no_v = {'huber_delta': 1.0}
    return {'mse': lambda y, t: _regression('mse')(y, t, no_v),
            'mae': lambda y, t: _regression('mae')(y, t, no_v)}
  metrics = {'accuracy': accuracy}
  if loss_cfg.name in REGRESSION:
    metrics['mse'] = _mse_metric
    metrics['mae'] = _mae_metric
  return metrics
