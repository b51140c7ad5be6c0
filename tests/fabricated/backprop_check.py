"""Fabricated tables for experiments/backprop_check.py: per activation the
worst parameter's errors of 5 initializations."""
from dlexp import claims

ALL = 'all (worst)'
TITLES = ('jax.grad vs chain rule', 'jax.grad vs finite diff',
          'chain rule vs finite diff')


def table(exact=(3e-16, 5e-16, 4e-16, 8e-16, 6e-16),
          fd=(2.7e-9, 1.1e-8, 4.0e-9, 6.9e-9, 3.3e-9), kinks=0.0,
          activations=('relu', 'tanh')):
  rows, overrides = {}, {}
  for act in activations:
    name = f'{act} {ALL}'
    rows[name] = {'entries': [13_274.0] * 5, 'kinks': [kinks] * 5,
                  TITLES[0]: list(exact), TITLES[1]: list(fd),
                  TITLES[2]: list(fd)}
    overrides[name] = {'model.activation': act, 'parameter': ALL}
  return claims.fabricate(rows, overrides=overrides)


CASES = {
    0: {'supported': table(),
        # a missing factor 1/N in the hand-written pass: O(1) errors
        'contradicted': table(exact=(0.97, 0.97, 0.96, 0.97, 0.97),
                              fd=(0.97, 0.96, 0.97, 0.97, 0.98)),
        'regime': table(kinks=4000.0)},
}
