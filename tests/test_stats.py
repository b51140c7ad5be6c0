"""dlexp.stats against hand-computed cases, textbook examples and scipy."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from dlexp import stats

A = [1.0, 2.0, 3.0, 4.0, 5.0]
B = [3.0, 4.0, 5.0, 6.0, 7.0]


def test_welch_matches_the_hand_computation():
  # var 2.5 a side, se = sqrt(2.5/5 + 2.5/5) = 1, t = -2, Welch df = 8.
  r = stats.welch(A, B)
  assert r.test == 'Welch t' and r.n == (5, 5)
  assert r.effect == pytest.approx(-2.0)
  assert r.p == pytest.approx(2 * sps.t.sf(2.0, 8))
  half = sps.t.ppf(0.975, 8)
  assert r.ci == pytest.approx((-2 - half, -2 + half))
  # Exact permutation: 252 splits of 10 runs.
  assert r.p_permutation == pytest.approx(
      np.mean([abs(np.mean(s) - (sum(A + B) - sum(s)) / 5) >= 2 - 1e-12
               for s in _splits(A + B, 5)]))


def _splits(values, k):
  import itertools  # pylint: disable=g-import-not-at-top
  return [list(c) for c in itertools.combinations(values, k)]


def test_detectable_effect_has_the_stated_power():
  r = stats.welch(A, B)
  se, df = 1.0, 8.0
  crit = sps.t.ppf(0.975, df)
  nc = r.mde / se
  power = sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc)
  assert power == pytest.approx(0.8, abs=1e-4)
  # Close to the normal-theory rule (t_crit + t_power) * se, and smaller
  # with more seeds.
  assert r.mde == pytest.approx((crit + sps.t.ppf(0.8, df)) * se, rel=0.05)
  wider = stats.welch(A * 3, B * 3)
  assert wider.mde < r.mde


def test_fewer_than_two_runs_or_non_finite_values_decide_nothing():
  r = stats.welch([0.9], [0.8, 0.81])
  assert not r.decidable and r.n == (1, 2) and math.isnan(r.mde)
  r = stats.welch([0.9, math.nan, math.inf], [0.8, 0.81, 0.82])
  assert r.n == (1, 3) and not r.decidable
  assert math.isnan(stats.tost([1.0], [1.0, 1.1], 0.5))
  assert not stats.one_sample([3.0], 0.0).decidable


def test_without_spread_the_permutation_and_sign_tests_decide():
  """No spread: Welch's t is undefined; 3 vs 3 separated gives the exact
  permutation p = 2 / C(6, 3) = 0.1 (two-sided), 5 seeds at 0 against a
  bound give the sign test's one-sided 1/32."""
  r = stats.welch([4, 4, 4], [2, 2, 2])
  assert r.test == 'permutation (no spread)' and r.effect == 2
  assert r.p == pytest.approx(0.1)
  assert stats.welch([4] * 5, [2] * 5).p == pytest.approx(2 / 252)
  assert stats.welch([4, 4], [4, 4]).p == 1.0
  assert stats.shifted_p([4] * 5, [2] * 5, 1.0, 'greater') == \
      pytest.approx(1 / 252)
  assert stats.shifted_p([4] * 5, [2] * 5, 3.0, 'greater') == 1.0
  assert stats.one_sample_p([0] * 5, 0.01, 'less') == pytest.approx(1 / 32)
  assert stats.one_sample_p([0] * 4, 0.01, 'less') == pytest.approx(1 / 16)
  r = stats.one_sample([0] * 5, 0.01)
  assert r.test == 'sign test (no spread)' and r.p == pytest.approx(2 / 32)


def test_tost_is_the_larger_of_two_hand_computed_one_sided_tests():
  a = [10.1, 9.9, 10.3, 10.0, 9.8, 10.2]
  b = [10.0, 10.2, 9.9, 10.1, 9.95, 10.05]
  margin = 0.5
  a_, b_ = np.array(a), np.array(b)
  va, vb = a_.var(ddof=1) / 6, b_.var(ddof=1) / 6
  se = math.sqrt(va + vb)
  df = (va + vb) ** 2 / (va ** 2 / 5 + vb ** 2 / 5)
  d = a_.mean() - b_.mean()
  p_low = sps.t.sf((d + margin) / se, df)  # H0: d <= -margin
  p_high = sps.t.cdf((d - margin) / se, df)  # H0: d >= +margin
  assert stats.tost(a, b, margin) == pytest.approx(max(p_low, p_high))
  assert stats.tost(a, b, margin) < 0.05  # equivalent within 0.5
  assert stats.tost(a, b, 0.05) > 0.05  # not within 0.05


def test_fisher_on_counts():
  r = stats.fisher(5, 5, 0, 5)
  assert r.p == pytest.approx(2 / 252) and r.effect == 1.0
  lo, hi = r.ci
  assert 0 < lo < 1 and hi == pytest.approx(1.0)
  r = stats.fisher(2, 5, 1, 5)
  assert r.p == pytest.approx(1.0) and r.effect == pytest.approx(0.2)
  assert r.ci[0] < 0 < r.ci[1]
  # With 5 a side only a near-certain rise from 0 is detectable at 80%.
  assert 0.6 < stats.rate_detectable(5, 5, 0.0) < 1.0
  assert stats.rate_detectable(20, 20, 0.0) < stats.rate_detectable(5, 5, 0.0)


def test_holm_textbook_example():
  # Sorted 0.005, 0.01, 0.03, 0.04: x4, x3, x2, x1, then running maximum.
  got = stats.holm([0.01, 0.04, 0.03, 0.005])
  assert got == pytest.approx([0.03, 0.06, 0.06, 0.02])
  got = stats.holm([0.2, math.nan, 0.01])
  assert got[0] == pytest.approx(0.2) and math.isnan(got[1])
  assert got[2] == pytest.approx(0.02)


def test_benjamini_hochberg_textbook_example():
  p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]
  q = [0.008, 0.032, 0.0672, 0.0672, 0.0672, 0.08, 0.074 * 8 / 7, 0.205]
  assert stats.bh(p) == pytest.approx(q)
  assert math.isnan(stats.bh([math.nan, 0.01])[0])


def test_one_sample_against_scipy():
  x = [0.31, 0.29, 0.30, 0.33, 0.28]
  r = stats.one_sample(x, 0.25)
  ref = sps.ttest_1samp(x, 0.25)
  assert r.p == pytest.approx(ref.pvalue)
  assert r.effect == pytest.approx(np.mean(x) - 0.25)
  ci = ref.confidence_interval()
  assert r.ci == pytest.approx((ci.low - 0.25, ci.high - 0.25))
  assert stats.one_sample_p(x, 0.25, 'greater') == pytest.approx(
      ref.pvalue / 2)


def test_binomial_against_the_hand_computation():
  r = stats.binomial(5, 5, 0.5)
  assert r.p == pytest.approx(2 / 32) and r.effect == pytest.approx(0.5)
  assert stats.binomial_p(5, 5, 0.5, 'greater') == pytest.approx(1 / 32)
  assert stats.binomial_p(0, 5, 0.5, 'greater') == pytest.approx(1.0)


def test_whole_number_counts_are_tested_by_exact_permutation_at_the_margin():
  # Epochs to a target at five seeds: ties make Welch's t unreliable. The
  # exact test enumerates the 252 splits of a - 1 against b; 24 of them
  # give a difference at least the observed one.
  a, b = [6, 6, 7, 7, 8], [4, 4, 5, 5, 6]
  assert stats.counts(np.array(a, float), np.array(b, float))
  p = stats.shifted_p(np.array(a, float), np.array(b, float), 1.0, 'greater')
  assert p == pytest.approx(24 / 252)
  assert not stats.counts(np.array([6.5, 6, 7, 7, 8]), np.array(b, float))
