"""Layer weight moments: Klambauer et al. (2017)'s omega and tau.

Their Theorem 1 proves the (0, 1) fixed point of SELU's mean/variance map
for a unit whose incoming weights have omega = sum w in [-0.1, 0.1] and
tau = sum w^2 in [0.95, 1.1]. LeCun normal weights meet that only in
expectation (per unit, omega ~ N(0, 1)). Here a dense layer with fan-in n
is summarized by its averages, omega = n * mean(w) and tau = n * mean(w^2)
over the kernel, which LeCun init sets to about 0 and 1 (a layer of m
units has omega ~ 1/sqrt(m) as a sample mean): what training moves.
"""
import re
from typing import Dict

import jax
import numpy as np
from flax import traverse_util

from dlexp.analysis.common import initial_params

# Theorem 1's domain (Klambauer et al. 2017, section 3).
OMEGA_MAX, TAU_RANGE = 0.1, (0.95, 1.1)


def moments(kernel: np.ndarray):
  """(omega, tau) of one dense kernel (fan_in, units)."""
  n = kernel.shape[0]
  return n * float(np.mean(kernel)), n * float(np.mean(np.square(kernel)))


def in_domain(omega: float, tau: float) -> bool:
  return abs(omega) <= OMEGA_MAX and TAU_RANGE[0] <= tau <= TAU_RANGE[1]


def _kernels(params, pattern: str):
  flat = traverse_util.flatten_dict(jax.device_get(params))
  return [np.asarray(v, np.float64) for k, v in sorted(flat.items())
          if k[-1] == 'kernel' and len(k) >= 2
          and re.fullmatch(pattern, str(k[-2]))]


def _summary(kernels) -> Dict[str, float]:
  stats = [moments(k) for k in kernels]
  if not stats:
    return dict(share=np.nan, omega=np.nan, tau=np.nan)
  return dict(share=float(np.mean([in_domain(o, t) for o, t in stats])),
              omega=max(abs(o) for o, _ in stats),
              tau=max(abs(t - 1) for _, t in stats))


def weight_moments_hook(pattern: str = r'dense\d+'):
  """Hook: per member, over its hidden dense layers (layer names matching
  `pattern`; the logits do not), after training and at the member's
  initialization (re-initialized from its seed): 'snn_domain_share', the
  share of the layers whose (omega, tau) lie in Theorem 1's domain;
  'omega_abs_max' and 'tau_dev_max', the largest |omega| and |tau - 1|;
  the same with '_init' for the initial weights. At finite width a layer's
  omega is a sample mean: about 1/sqrt(units) at initialization, so the
  initial values are the reference for what training changed."""

  def hook(ctx) -> Dict[str, np.ndarray]:
    final = _kernels(ctx.params, pattern)
    out = {}
    for i, params in enumerate(initial_params(ctx)):
      start = _kernels(params, pattern)
      for suffix, kernels in (('', [k[i] for k in final]), ('_init', start)):
        for key, value in _summary(kernels).items():
          name = {'share': 'snn_domain_share', 'omega': 'omega_abs_max',
                  'tau': 'tau_dev_max'}[key] + suffix
          out.setdefault(name, []).append(value)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}

  return hook
