"""Fabricated tables for experiments/loss_functions.py: its four parts,
5 seeds each."""
import numpy as np

from dlexp import claims

CLASSES, IMBALANCED = 'balanced classes', 'imbalanced classes'
CLEAN, NOISY = 'regression, clean targets', 'regression, training outliers'
WEIGHTED = 'class_weights=0.706-35.3'


def _seeds(mean, sd, seed=0):
  noise = np.random.default_rng(seed).normal(0, 1, 5)
  noise = (noise - noise.mean()) / noise.std(ddof=1)
  return [round(float(mean + sd * z), 4) for z in noise]


def _epochs(best, ran, seed=0):
  """'best epoch' and 'epochs run' columns: best epochs spread around
  `best` (at most `ran`)."""
  spread = np.random.default_rng(seed).integers(-2, 3, 5)
  return {'best epoch': [float(min(ran, max(1, best + d))) for d in spread],
          'epochs run': [float(ran)] * 5}


def _parts(acc=None, balanced=None, recall=None, clean=None, noisy=None,
           best=None):
  """`best`: {loss: best epoch} overrides in the balanced part (8 epochs;
  by default every arm's best is around epoch 5)."""
  best = {'cross_entropy': 5, 'mse': 5, 'mae': 5, **(best or {})}
  acc = {'cross_entropy': 0.854, 'mse': 0.838, 'mae': 0.547, **(acc or {})}
  balanced = {'cross_entropy': 0.771, 'focal': 0.770, WEIGHTED: 0.790,
              **(balanced or {})}
  recall = recall or (0.40, 0.93)  # plain cross-entropy: minority, majority
  # (test MAE, test MSE) per loss
  clean = {'mse': (0.624, 0.520), 'mae': (0.629, 0.548),
           'huber': (0.619, 0.529), **(clean or {})}
  noisy = {'mse': (1.022, 1.597), 'mae': (0.657, 0.596),
           'huber': (0.633, 0.559), **(noisy or {})}
  classes = claims.fabricate({
      f'name={n}': {'test acc': _seeds(a, 0.005, i),
                    'ECE': _seeds(0.05 + 0.1 * (n != 'cross_entropy'), 0.01,
                                  i + 10),
                    **_epochs(best[n], 8, i)}
      for i, (n, a) in enumerate(acc.items())})
  imbalanced = {}
  for i, (n, b) in enumerate(balanced.items()):
    trial = n if n == WEIGHTED else f'name={n}'
    minority, majority = recall if n == 'cross_entropy' else (0.5, 0.88)
    imbalanced[trial] = {
        'test acc': _seeds(b, 0.006, i), 'balanced acc': _seeds(b, 0.006, i),
        'minority recall': _seeds(minority, 0.05, i + 20),
        'majority recall': _seeds(majority, 0.005, i + 30),
        **_epochs(5, 8, i)}
  regression = lambda table, base: claims.fabricate({
      f'name={n}': {'test MAE': _seeds(mae, 0.008, base + i),
                    'test MSE': _seeds(mse, 0.015, base + i + 50),
                    **_epochs(60, 150, base + i)}
      for i, (n, (mae, mse)) in enumerate(table.items())})
  return claims.PartEvidence({
      CLASSES: classes, IMBALANCED: claims.fabricate(imbalanced),
      CLEAN: regression(clean, 40), NOISY: regression(noisy, 70)})


CASES = {
    # Classification: use cross-entropy
    0: {'supported': _parts(),
        'contradicted': _parts(acc={'mse': 0.866, 'mae': 0.866}),
        # MSE and MAE still improving at the last of 8 epochs
        'regime': _parts(best={'mse': 8, 'mae': 8})},
    # Imbalanced: focal or weighted cross-entropy can be effective
    1: {'supported': _parts(),
        'contradicted': _parts(balanced={'focal': 0.7712, WEIGHTED: 0.7708}),
        'regime': _parts(recall=(0.88, 0.90))},
    # MSE when the goal is to minimize large errors
    2: {'supported': _parts(),
        'contradicted': _parts(clean={'mse': (0.624, 0.600)}),
        'regime': _parts(clean={'mse': (0.80, 0.98)})},
    # MAE is less sensitive to outliers than MSE
    3: {'supported': _parts(),
        'contradicted': _parts(noisy={'mse': (0.624, 0.53)}),
        'regime': _parts(clean={'mae': (0.80, 0.97)})},
}
