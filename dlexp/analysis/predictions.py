"""What the trained model predicts: evaluation in inference mode (clean train
accuracy, the last epoch's parameters), the test-set predictions as class
probabilities, their calibration (ECE) and per-class recall, and whether the
logits still depend on the input."""
import functools
from typing import Dict, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dlexp import losses
from dlexp.analysis.common import model_variables


@functools.partial(jax.jit, static_argnums=(0,))
def _evaluate(steps, params, batch_stats, hp, xs, ys, ws):
  return jax.vmap(steps.evaluate, in_axes=(0, 0, 0, None, None, None))(
      params, batch_stats, hp, xs, ys, ws)


def clean_train_accuracy_hook(num_examples: int = 10000,
                              batch_size: int = 1000):
  """Hook: loss and accuracy on the first `num_examples` training examples
  (a fixed subset) in inference mode, i.e. with dropout off, as 'clean_train_*'.

  The per-epoch 'train_accuracy' the runner logs averages the training steps
  with dropout on; against the validation accuracy (inference mode) only this
  one measures the generalization gap.
  """

  def hook(ctx) -> Dict[str, jax.Array]:
    n = min(num_examples, ctx.data.train_x.shape[0])
    b = min(batch_size, n)
    n -= n % b  # whole batches: no padding needed
    xs = ctx.data.train_x[:n].reshape((n // b, b) + ctx.data.train_x.shape[1:])
    ys = ctx.data.train_y[:n].reshape((n // b, b) + ctx.data.train_y.shape[1:])
    ws = jnp.ones((n // b, b), jnp.float32)
    out = _evaluate(ctx.steps, ctx.params, ctx.batch_stats, ctx.hp, xs, ys, ws)
    return {f'clean_train_{k}': v for k, v in out.items()}

  return hook


# -- early stopping: the last epoch's parameters -------------------------------
def last_epoch_hook(ctx) -> Dict[str, jax.Array]:
  """'last_test_loss', 'last_test_accuracy' (and every other metric) of the
  LAST epoch's parameters: what a run keeps without restore_best (Keras'
  EarlyStopping default). Equal to the test_* metrics where the last epoch
  is the best one."""
  split = ctx.data.test if ctx.data.test is not None else ctx.data.val
  out = _evaluate(ctx.steps, ctx.last_params, ctx.last_batch_stats, ctx.hp,
                  *split)
  prefix = 'last_test_' if ctx.data.test is not None else 'last_val_'
  return {prefix + k: v for k, v in out.items()}


# -- predictions on the test set -----------------------------------------------
@functools.partial(jax.jit, static_argnums=(0,))
def _logits(model, params, batch_stats, xs):
  """(members, B, b, outputs) inference logits of pre-batched xs."""

  def member(p, bs):
    variables = model_variables(p, bs)
    return jax.lax.map(
        lambda x: model.apply(variables, x, train=False, dropout_rate=0.0), xs)

  return jax.vmap(member)(params, batch_stats)


def _test_predictions(ctx):
  """(logits (members, N, K), labels (N,), weights (N,)) on the test set
  (validation if there is none), padding included (weight 0)."""
  xs, ys, ws = ctx.data.test if ctx.data.test is not None else ctx.data.val
  logits = np.asarray(_logits(ctx.model, ctx.params, ctx.batch_stats, xs))
  logits = logits.reshape((logits.shape[0], -1, logits.shape[-1]))
  return (logits, np.asarray(ys).reshape(-1),
          np.asarray(ws).reshape(-1))


def probabilities(logits: np.ndarray, loss_name: str) -> np.ndarray:
  """Class probabilities a loss trains the outputs to be: softmax for
  cross-entropy and focal; for mse/mae/huber on one-hot targets the
  outputs themselves, clipped to [0, 1] and renormalized (MSE's minimizer
  is the conditional class probability; no softmax was trained)."""
  if loss_name in losses.REGRESSION:
    p = np.clip(logits, 0.0, 1.0)
    total = p.sum(-1, keepdims=True)
    uniform = np.full_like(p, 1.0 / p.shape[-1])
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), uniform)
  if logits.shape[-1] == 1:  # one sigmoid logit (bce on two classes)
    q = 1.0 / (1.0 + np.exp(-logits[..., 0]))
    return np.stack([1.0 - q, q], axis=-1)
  z = logits - logits.max(-1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(-1, keepdims=True)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               bins: int = 15,
                               weights: Optional[np.ndarray] = None
                               ) -> float:
  """ECE (Naeini et al. 2015; Guo et al. 2017): sum over `bins` equal-width
  confidence bins (lo, hi] of (bin weight / total) * |accuracy - mean
  confidence| of the bin."""
  w = np.ones_like(confidence) if weights is None else weights
  edges = np.linspace(0.0, 1.0, bins + 1)
  index = np.clip(np.searchsorted(edges, confidence, side='left') - 1, 0,
                  bins - 1)
  total, ece = w.sum(), 0.0
  for b in range(bins):
    in_bin = (index == b) & (w > 0)
    weight = w[in_bin].sum()
    if weight > 0:
      acc = (w[in_bin] * correct[in_bin]).sum() / weight
      conf = (w[in_bin] * confidence[in_bin]).sum() / weight
      ece += weight / total * abs(acc - conf)
  return float(ece)


def calibration_hook(bins: int = 15):
  """Hook: 'ece', the expected calibration error (`bins` bins) of the test
  predictions, and 'confidence', their mean top probability; probabilities
  as the member's loss defines them (see `probabilities`)."""

  def hook(ctx) -> Dict[str, np.ndarray]:
    logits, ys, ws = _test_predictions(ctx)
    ece, conf = [], []
    for i, m in enumerate(ctx.members):
      p = probabilities(logits[i], m.trial.config.loss.name)
      top = p.max(-1)
      correct = (p.argmax(-1) == ys).astype(np.float64)
      ece.append(expected_calibration_error(top, correct, bins, ws))
      conf.append((top * ws).sum() / ws.sum())
    return {'ece': np.asarray(ece), 'confidence': np.asarray(conf)}

  return hook


def class_recall_hook(minority: Sequence[int] = ()):
  """Hook: 'recall_<c>' for every class, 'balanced_accuracy' (their mean),
  and with `minority` classes 'minority_recall' / 'majority_recall' (mean
  recall over those classes / over the rest), on the test set."""

  def hook(ctx) -> Dict[str, np.ndarray]:
    logits, ys, ws = _test_predictions(ctx)
    k = logits.shape[-1]
    pred = logits.argmax(-1)  # (members, N)
    recall = np.full((len(ctx.members), k), np.nan)
    for c in range(k):
      mine = (ys == c) & (ws > 0)
      if mine.any():
        recall[:, c] = (pred[:, mine] == c).mean(axis=1)
    out = {f'recall_{c}': recall[:, c] for c in range(k)}
    out['balanced_accuracy'] = np.nanmean(recall, axis=1)
    if minority:
      rest = [c for c in range(k) if c not in minority]
      out['minority_recall'] = np.nanmean(recall[:, list(minority)], axis=1)
      out['majority_recall'] = np.nanmean(recall[:, rest], axis=1)
    return out

  return hook


# -- logits --------------------------------------------------------------------
@functools.partial(jax.jit, static_argnums=(0,))
def _logit_spread(model, params, batch_stats, rates, x):

  def member(p, bs, rate):
    variables = model_variables(p, bs)
    z = model.apply(variables, x, train=False, dropout_rate=rate)
    return {'logit_spread_examples': jnp.mean(jnp.std(z, axis=0)),
            'logit_spread_classes': jnp.mean(jnp.std(z, axis=-1)),
            'logit_rms': jnp.sqrt(jnp.mean(jnp.square(z)))}

  return jax.vmap(member)(params, batch_stats, rates)


def logit_spread_hook(ctx) -> Dict[str, jax.Array]:
  """How the final logits vary on the probe (inference mode):
  'logit_spread_examples', the std over examples of each logit averaged
  over classes (0: the network gives every input the same output, a
  collapsed or dead network); 'logit_spread_classes', the std over classes
  averaged over examples (0: uniform predictions, loss ln K); 'logit_rms'."""
  return _logit_spread(ctx.model, ctx.params, ctx.batch_stats,
                       ctx.hp['model.dropout_rate'], ctx.data.probe_x)
