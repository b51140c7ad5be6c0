"""Fabricated tables for experiments/sparsity.py: the default grid (no
penalty, L1 as a penalty and as a proximal step, dropout, gradual and
one-shot pruning to four sparsities), five seeds."""
from dlexp import claims

N = 5
SPARSITIES = (0.5, 0.8, 0.9, 0.95)
CSR = {0.5: 1.0, 0.8: 0.41, 0.9: 0.21, 0.95: 0.11}  # sparse / dense size


def _seeds(value, spread=0.0):
  return [value + spread * o for o in (-2, -1, 0, 1, 2)]


def _row(test=0.837, zero=0.0, small=1.5, ratio=2.0, act_train=55.9,
         act_inference=55.9):
  return {'test acc': _seeds(test, 0.001), 'zero %': _seeds(zero, 0.0),
          'abs<1e-3 %': _seeds(small, 0.02), 'dense KB': [1041] * N,
          'sparse KB': [1041 * ratio] * N, 'size ratio': [ratio] * N,
          'act zero % train': _seeds(act_train, 0.3),
          'act zero % inference': _seeds(act_inference, 0.3)}


def table(**changes):
  """The plausible table (what the default size measured), with some rows
  replaced: trial name -> _row keyword arguments."""
  rows = {
      'l1=0': _row(),
      'l1=0.0001': _row(small=5.5),
      'l1=0.001': _row(test=0.823, small=50.7),
      'l1_method=proximal,l1=0.0001': _row(zero=0.1, small=5.5),
      'l1_method=proximal,l1=0.001': _row(test=0.822, zero=20.8, small=50.9,
                                          ratio=1.59),
      'dropout_rate=0.3': _row(test=0.833, act_train=75.1,
                               act_inference=65.0),
      'dropout_rate=0.5': _row(test=0.817, act_train=85.4,
                               act_inference=71.8),
  }
  for s in SPARSITIES:
    pruned = dict(zero=100 * s, small=100 * s, ratio=CSR[s],
                  test=0.84 - 0.1 * s ** 4)
    rows[f'prune_method=gradual,prune_sparsity={s:g}'] = _row(**pruned)
    rows[f'prune_method=one_shot,prune_start_epoch=6,'
         f'prune_sparsity={s:g}'] = _row(**pruned)
  for name, kwargs in changes.items():
    rows[name] = _row(**kwargs)
  return claims.fabricate(rows, exact=('dense KB', 'sparse KB', 'size ratio'))


L1 = 'l1=0.001'
PROXIMAL = 'l1_method=proximal,l1=0.001'
DROP = 'dropout_rate=0.5'
GRADUAL = 'prune_method=gradual,prune_sparsity=0.95'
ONE_SHOT = 'prune_method=one_shot,prune_start_epoch=6,prune_sparsity=0.95'
TOP = dict(zero=95.0, small=95.0, ratio=0.11)


def _all_pruned(ratio):
  out = {}
  for s in SPARSITIES:
    for name in (f'prune_method=gradual,prune_sparsity={s:g}',
                 f'prune_method=one_shot,prune_start_epoch=6,'
                 f'prune_sparsity={s:g}'):
      out[name] = dict(zero=100 * s, small=100 * s, ratio=ratio(s))
  return out


CASES = {
    # L1 sets weights to exactly zero: as a penalty (SGD) and as a
    # proximal step.
    0: {'supported': table(**{L1: dict(zero=20.0, small=50.7),
                              PROXIMAL: dict(zero=21.0, small=50.9)}),
        'contradicted': table(**{PROXIMAL: dict(zero=0.0, small=50.9)}),
        'regime': table(**{L1: dict(test=0.1, zero=20.0)})},
    # Dropout gives a sparse network (exact zeros among the weights).
    1: {'supported': table(**{DROP: dict(zero=5.0)}),
        'contradicted': table(),
        'regime': table(**{DROP: dict(test=0.1, zero=5.0)})},
    # Pruning can give a smaller memory footprint (existence): at some
    # sparsity; the 'contradicted' table (larger at every one) is
    # inconclusive.
    2: {'supported': table(**_all_pruned(lambda s: min(CSR[s], 0.8))),
        'contradicted': table(**_all_pruned(lambda s: 2.0)),
        'regime': table(**{ONE_SHOT: dict(TOP, test=0.1)})},
    # Iterative (gradual) magnitude pruning against one-shot.
    3: {'supported': table(**{GRADUAL: dict(TOP, test=0.76),
                              ONE_SHOT: dict(TOP, test=0.74)}),
        'contradicted': table(**{GRADUAL: dict(TOP, test=0.70),
                                 ONE_SHOT: dict(TOP, test=0.74)}),
        'regime': table(**{GRADUAL: dict(TOP, test=0.1)})},
}
