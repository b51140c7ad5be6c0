"""Fabricated tables for experiments/residual_vs_plain.py."""
from dlexp import claims

ERR, TEST, DROP = 'train err @end', 'test err', 'loss drop last 3 ep'


def _jitter(mean, step=0.004):
  return [mean + step * d for d in (-2, -1, 0, 1, 2)]


def _table(train, test=None, drop=0.02):
  """train / test: {(depth, plain): mean}; every net settled (`drop`)
  unless `drop` is a dict of the same keys."""
  test = test or {k: v + 0.03 for k, v in train.items()}
  rows = {}
  for (depth, plain), err in train.items():
    d = drop.get((depth, plain), 0.02) if isinstance(drop, dict) else drop
    rows[f'variant=resnet{depth},plain={plain}'] = {
        ERR: _jitter(err), TEST: _jitter(test[(depth, plain)], 0.003),
        DROP: _jitter(d, 0.003)}
  return claims.fabricate(rows)


# He et al.'s picture: plain nets degrade with depth, residual ones improve.
GOOD = {(20, True): 0.10, (20, False): 0.06, (32, True): 0.18,
        (32, False): 0.05, (56, True): 0.35, (56, False): 0.04}
GOOD_TEST = {(20, True): 0.14, (20, False): 0.10, (32, True): 0.22,
             (32, False): 0.085, (56, True): 0.40, (56, False): 0.07}
# No degradation among plain nets; residual nets degrade like plain ones.
FLAT = {(20, True): 0.10, (20, False): 0.06, (32, True): 0.10,
        (32, False): 0.15, (56, True): 0.10, (56, False): 0.30}
FLAT_TEST = {(20, True): 0.14, (20, False): 0.08, (32, True): 0.14,
             (32, False): 0.12, (56, True): 0.14, (56, False): 0.18}
# The deep nets still losing a third of their loss over the last epochs.
UNSETTLED = {k: 0.3 for k in GOOD}

CASES = {
    0: {'supported': _table(GOOD),
        'contradicted': _table(FLAT),
        'regime': _table(GOOD, drop=UNSETTLED)},
    1: {'supported': _table(GOOD),
        'contradicted': _table(FLAT),
        'regime': _table(GOOD, drop={(56, False): 0.4, (56, True): 0.4})},
    2: {'supported': _table(GOOD, GOOD_TEST),
        'contradicted': _table(FLAT, FLAT_TEST),
        'regime': _table(GOOD, GOOD_TEST, drop={(56, False): 0.45}),
        # The shallowest residual net's test error is already below 0.02.
        'regime_room': _table(GOOD, {**GOOD_TEST, (20, False): 0.015,
                                     (32, False): 0.012, (56, False): 0.010})},
}
