"""Fabricated tables for experiments/vgg_cifar_failure.py: per seed, 1 where
the run failed (ended at chance or diverged; status 'collapsed' unless
given), 0 where it learned."""
from dlexp import claims

STUCK = 'at chance or diverged (fraction of seeds)'
TEST, GRAD = 'test acc', 'abs log10 grad first/logits @init'
LOSS, RISE = 'train loss @end', 'train loss rise (max over epochs)'
VGG = 'notebook VGG,learning_rate=0.001'
RESNET = 'notebook ResNet (batch norm)'


def _row(stuck, test=None, grad=None, loss=None, rise=None):
  test = test or [0.1 if s else 0.6 for s in stuck]
  row = {STUCK: stuck, TEST: test,
         LOSS: loss or [2.3026 if s else 1.1 for s in stuck]}
  if grad is not None:
    row[GRAD] = grad
  if rise is not None:
    row[RISE] = rise
  return row


def _table(rows, status=None):
  """A failed seed is 'collapsed' (its last validation accuracy is at
  chance) unless `status` says otherwise."""
  status = dict(status or {})
  for trial, row in rows.items():
    status.setdefault(trial, ['collapsed' if v == 1.0 else 'done'
                              for v in row[STUCK]])
  return claims.fabricate(rows, overrides={t: {} for t in rows},
                          status=status)


ALL, NONE = [1.0] * 5, [0.0] * 5
# |log10 grad first/logits| at init: a signal that propagates, one that
# vanishes (Glorot on scaled inputs in the real runs: 2.73).
FLOWS = [0.30, 0.43, 0.13, 0.40, 0.22]
VANISHES = [2.46, 2.87, 2.68, 2.72, 2.93]


def _vgg(vgg, resnet):
  return _table({VGG: _row(vgg), RESNET: _row(resnet)})


def _resnet(test, loss=None):
  return _table({RESNET: _row([0.0] * 5, test, loss=loss)})


def _fixes(raw_glorot, scaled_glorot, raw_he, scaled_he,
           glorot_grad=VANISHES, he_grad=FLOWS):
  return _table({VGG: _row(raw_glorot),
                 'scaled_inputs': _row(scaled_glorot, grad=glorot_grad),
                 'he_init': _row(raw_he),
                 'he_init+scaled_inputs': _row(scaled_he, grad=he_grad)})


def _bn(notebook, with_bn):
  return _table({VGG: _row(notebook), 'batch_norm': _row(with_bn)})


def _he(he, glorot):
  return _table({'he_init+scaled_inputs': _row(NONE, grad=he),
                 'scaled_inputs': _row(NONE, grad=glorot)})


FLAT = [0.0, 0.002, 0.0, 0.004, 0.001]


def _rates(low, base, high, high_rise=FLAT, base_rise=FLAT):
  return _table({'notebook VGG,learning_rate=0.0001': _row(low, rise=FLAT),
                 VGG: _row(base, rise=base_rise),
                 'notebook VGG,learning_rate=0.01': _row(high,
                                                         rise=high_rise)})


CASES = {
    0: {'supported': _vgg(ALL, NONE), 'contradicted': _vgg(NONE, ALL)},
    1: {'supported': _resnet([0.36, 0.38, 0.41, 0.33, 0.37]),
        'contradicted': _resnet([0.10, 0.11, 0.10, 0.09, 0.10]),
        # 160 steps: the proxy ResNet barely left ln 10 (real runs: 2.14).
        'regime': _resnet([0.22, 0.27, 0.28, 0.24, 0.17],
                          [2.17, 2.12, 2.06, 2.15, 2.23])},
    # Both initializations kept (Glorot's scaled arm vanishing is a note).
    2: {'supported': _fixes(ALL, NONE, ALL, NONE),
        'contradicted': _fixes(NONE, ALL, NONE, ALL)},
    3: {'supported': _bn(ALL, NONE),
        # Batch norm fails more than a baseline that fails in 4 of 5: only
        # decidable with many seeds (24 of 30 without, 30 of 30 with).
        'contradicted': _bn(([1.0] * 4 + [0.0]) * 6, [1.0] * 30),
        'regime': _bn([1.0, 1.0, 0.0, 0.0, 0.0], NONE)},
    4: {'supported': _he([0.25, 0.31, 0.22, 0.28, 0.27],
                         [2.61, 2.48, 2.75, 2.55, 2.66]),
        'contradicted': _he([2.70, 2.81, 2.66, 2.77, 2.72],
                            [1.52, 1.61, 1.47, 1.58, 1.55]),
        'regime': _he([0.25, 0.31, 0.22, 0.28, 0.27],
                      [0.30, 0.41, 0.35, 0.28, 0.33])},
    # "may": the loss rises at 0.01 in every seed and in none at 0.001
    # (overshooting shows); the 'contradicted' table shows no part (an
    # existence claim is then inconclusive; overshooting is left out).
    5: {'supported': _rates(NONE, NONE, NONE,
                            high_rise=[0.31, 0.45, 0.18, 0.62, 0.27]),
        'contradicted': _rates(NONE, NONE, NONE)},
}
