"""Linear probes: how well a linear classifier reads the class from a
layer's features (Alain and Bengio 2016, "Understanding intermediate layers
using linear classifier probes"), for the trained network and for the same
network at its initialization.

A probe is a ridge regression onto one-hot labels (a closed form: no
training loop, the same answer every time), fitted on the first training
examples, its ridge picked on a held-out part of them, and scored on test
examples (selecting nothing). A layer's features are its output flattened, each
dimension standardized with the fit examples' statistics, then projected to
PROBE_DIM dimensions by a fixed random Gaussian matrix: every layer is read
by a probe of the same capacity (a layer with more dimensions than another
is not favoured for that alone), and the fit stays cheap on a CPU.
"""
import functools
from typing import Dict, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from dlexp.analysis.common import model_variables

# Ridge strengths, relative to the mean eigenvalue of the fit examples'
# Gram matrix: from nearly unregularized to strong. The probe picks one on
# its held-out part, so that no layer is judged at a ridge that suits
# another.
RIDGES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
PROBE_DIM = 256  # the probe's input dimensions, the same for every layer
_PROJECTION_SEED = 0x70726f  # fixed: trained and initial nets share it
_BATCH = 500  # examples per forward pass: bounds the captured feature maps


def probe_accuracy(fit_x: np.ndarray, fit_y: np.ndarray, eval_x: np.ndarray,
                   eval_y: np.ndarray, num_classes: int,
                   held_out: float = 0.25) -> float:
  """Accuracy on (eval_x, eval_y) of a ridge probe fitted on (fit_x,
  fit_y), features (N, ...) flattened; the ridge (RIDGES) is the one with
  the best accuracy on the last `held_out` share of the fit examples, then
  the probe is refitted on all of them."""
  fit_x, eval_x = (np.asarray(a, np.float32).reshape(len(a), -1)
                   for a in (fit_x, eval_x))
  mean, std = fit_x.mean(0), fit_x.std(0)
  std = np.where(std > 1e-6, std, 1.0)  # a constant feature stays 0
  project = _projection(fit_x.shape[1])
  fit_x, eval_x = (((a - mean) / std) @ project for a in (fit_x, eval_x))
  fit_x, eval_x = fit_x.astype(np.float64), eval_x.astype(np.float64)
  fit_y = np.asarray(fit_y, np.int64)
  targets = np.eye(num_classes)[fit_y]
  cut = len(fit_x) - max(1, int(round(held_out * len(fit_x))))
  predict = _ridge(fit_x[:cut], targets[:cut])
  scores = [np.mean(np.argmax(predict(fit_x[cut:], r), -1) == fit_y[cut:])
            for r in RIDGES]
  best = RIDGES[int(np.argmax(scores))]  # the first of ties: the weakest
  logits = _ridge(fit_x, targets)(eval_x, best)
  return float(np.mean(np.argmax(logits, -1) == np.asarray(eval_y)))


def _projection(dim: int) -> np.ndarray:
  """(dim, PROBE_DIM) Gaussian matrix, fixed per dim, scaled to keep a
  standardized example's squared norm on average."""
  rng = np.random.default_rng([_PROJECTION_SEED, dim])
  return (rng.standard_normal((dim, PROBE_DIM)) /
          np.sqrt(PROBE_DIM)).astype(np.float32)


def _ridge(x: np.ndarray, targets: np.ndarray):
  """predict(new_x, relative ridge) of the ridge regression, with an
  intercept, of `targets` on `x`."""
  x_mean, t_mean = x.mean(0), targets.mean(0)
  xc = x - x_mean
  gram, moment = xc.T @ xc, xc.T @ (targets - t_mean)
  scale = max(float(np.trace(gram)) / len(gram), 1e-12)  # mean eigenvalue

  def predict(new_x: np.ndarray, ridge: float) -> np.ndarray:
    weights = np.linalg.solve(gram + ridge * scale * np.eye(len(gram)),
                              moment)
    return (new_x - x_mean) @ weights + t_mean

  return predict


@functools.partial(jax.jit, static_argnums=(0, 3))
def _features(model, variables, xb, layers: Tuple[str, ...]):
  """{layer: (b, D)} outputs of the top-level modules named `layers`."""
  _, state = model.apply(
      variables, xb, train=False, dropout_rate=0.0,
      mutable=['intermediates'],
      capture_intermediates=lambda mdl, method: (
          method == '__call__' and len(mdl.scope.path) == 1
          and mdl.scope.path[0] in layers))
  found = state.get('intermediates', {})
  return {n: found[n]['__call__'][0].reshape(len(xb), -1)
          for n in layers if n in found}


def layer_features(model, params, batch_stats, x, layers: Sequence[str]
                   ) -> Dict[str, np.ndarray]:
  """{layer: (N, D) flat outputs} of the top-level modules named `layers`
  that the model has, on inputs x in inference mode (one member's
  variables)."""
  variables = model_variables(params, batch_stats)
  parts = [jax.device_get(_features(model, variables, x[i:i + _BATCH],
                                    tuple(layers)))
           for i in range(0, len(x), _BATCH)]
  return {n: np.concatenate([p[n] for p in parts]) for n in parts[0]}


def _examples(data, num_fit: int, num_eval: int
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """(fit x, fit y, eval x, eval y): the first training examples, and the
  first test examples (validation where there is no test split), their
  padding left out. The probe's score is a held-out measurement that
  selects nothing, so the test split serves it; the validation split is
  smaller and already chose the learning rate and the restored epoch."""
  fit_x = np.asarray(data.train_x[:num_fit])
  fit_y = np.asarray(data.train_y[:num_fit])
  split = data.test if data.test is not None else data.val
  ex, ey, ew = (np.asarray(a) for a in split)
  keep = ew.reshape(-1) > 0
  eval_x = ex.reshape((-1,) + ex.shape[2:])[keep][:num_eval]
  eval_y = ey.reshape(-1)[keep][:num_eval]
  return fit_x, fit_y, eval_x, eval_y


def linear_probe_hook(layers: Sequence[str], num_fit: int = 4000,
                      num_eval: int = 4000):
  """Hook: 'probe_input' (the pixels themselves) and, for each of `layers`
  (top-level module names, e.g. the CNN's 'pool1', 'pool2') the model has,
  'probe_<layer>' (trained, final parameters) and 'probe_<layer>_init'
  (the same member's parameters at initialization, from its seed): linear
  probe accuracies (probe_accuracy). A model without those layers (an MLP)
  gets 'probe_input' only."""

  def hook(ctx) -> Dict[str, np.ndarray]:
    fit_x, fit_y, eval_x, eval_y = _examples(ctx.data, num_fit, num_eval)
    classes = int(max(fit_y.max(), eval_y.max())) + 1
    pixels = probe_accuracy(fit_x, fit_y, eval_x, eval_y, classes)
    out = {'probe_input': np.full(len(ctx.members), pixels)}
    xs = np.concatenate([fit_x, eval_x])
    for i, m in enumerate(ctx.members):
      init = ctx.steps.init(jnp.int32(m.seed), ctx.data.train_x[:1])
      states = {'': jax.tree_util.tree_map(lambda a, i=i: a[i],
                                           (ctx.params, ctx.batch_stats)),
                '_init': (init.params, init.batch_stats)}
      for suffix, (params, bstats) in states.items():
        feats = layer_features(ctx.model, params, bstats, xs, layers)
        for name, f in feats.items():
          key = f'probe_{name}{suffix}'
          out.setdefault(key, np.full(len(ctx.members), np.nan))
          out[key][i] = probe_accuracy(f[:len(fit_x)], fit_y,
                                       f[len(fit_x):], eval_y, classes)
    return out

  return hook
