"""The verdict machinery: forms, the algebra of cases, preconditions,
provenance, errors, and the evidence a table gives."""
import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from dlexp import claims, report

HI = [0.861, 0.864, 0.859, 0.866, 0.862]
LO = [0.841, 0.843, 0.838, 0.845, 0.840]
SAME = [0.8511, 0.8509, 0.8512, 0.8508, 0.8510]
NOISY = [0.80, 0.90, 0.85, 0.83, 0.88]


def _s(values, name='x'):
  return claims.Sample(np.array(values, np.float64), name, len(values))


def test_greater_reaches_each_verdict():
  assert claims.greater(_s(HI), _s(LO), 0.005, 'acc').verdict == \
      claims.SUPPORTED
  assert claims.greater(_s(LO), _s(HI), 0.005, 'acc').verdict == \
      claims.CONTRADICTED
  # Equivalent within the margin: no effect that matters.
  assert claims.greater(_s(SAME), _s(SAME[::-1]), 0.005, 'acc').verdict == \
      claims.CONTRADICTED
  # Too noisy to tell.
  assert claims.greater(_s(NOISY), _s(LO), 0.005, 'acc').verdict == \
      claims.INCONCLUSIVE
  assert claims.less(_s(LO), _s(HI), 0.005, 'loss').verdict == \
      claims.SUPPORTED
  with pytest.raises(ValueError, match='margin'):
    claims.greater(_s(HI), _s(LO), 0.0, 'acc')


def test_a_significant_difference_smaller_than_the_margin_contradicts():
  a = _s([0.8510, 0.8512, 0.8511, 0.8513, 0.8511])
  b = _s([0.8500, 0.8502, 0.8501, 0.8500, 0.8502])  # +0.001, tight
  assert claims.greater(a, b, 0.005, 'acc').verdict == claims.CONTRADICTED
  assert claims.greater(a, b, 0.0005, 'acc').verdict == claims.SUPPORTED


def test_greater_decides_at_alpha():
  """A - B = -0.2 with SE 0.1 and 8 df; 'less by 0.01': t = -1.9, one-sided
  p = 0.0470 beyond the margin (Welch: not whole-number counts)."""
  a, b = _s([.1, .2, .3, .4, .5]), _s([.3, .4, .5, .6, .7])
  with claims.alpha_of(0.046):
    assert claims.less(a, b, 0.01, 'x').verdict == claims.INCONCLUSIVE
  with claims.alpha_of(0.048):
    v = claims.less(a, b, 0.01, 'x')
    assert v.verdict == claims.SUPPORTED
    assert v.p_support == pytest.approx(
        stats.t.sf(1.9, 8), rel=1e-6)


def test_fewer_than_two_seeds_is_inconclusive_and_says_so():
  v = claims.greater(_s([0.9]), _s(LO), 0.005, 'acc')
  assert v.verdict == claims.INCONCLUSIVE and 'not decidable' in v.evidence


def test_equivalence_and_non_inferiority():
  assert claims.equivalent(_s(SAME), _s(SAME[::-1]), 0.005, 'a').verdict \
      == claims.SUPPORTED
  assert claims.equivalent(_s(HI), _s(LO), 0.005, 'a').verdict == \
      claims.CONTRADICTED
  assert claims.equivalent(_s(NOISY), _s(LO), 0.005, 'a').verdict == \
      claims.INCONCLUSIVE
  assert claims.not_worse(_s(SAME), _s(SAME), 0.005, 'a').verdict == \
      claims.SUPPORTED
  assert claims.not_worse(_s(LO), _s(HI), 0.005, 'a').verdict == \
      claims.CONTRADICTED
  # Lower is better (a time): A slower by more than the margin.
  assert claims.not_worse(_s([2.0, 2.1, 2.05]), _s([1.0, 1.1, 1.05]), 0.1,
                          's', higher_is_better=False).verdict == \
      claims.CONTRADICTED


def test_rate_and_target_forms():
  many, few = claims.Count(5, 5, 'A', 'diverged'), claims.Count(0, 5, 'B',
                                                                 'diverged')
  assert claims.rate_greater(many, few, 'd').verdict == claims.SUPPORTED
  assert claims.rate_greater(few, many, 'd').verdict == claims.CONTRADICTED
  assert claims.rate_greater(claims.Count(2, 5, 'A', 'd'),
                             claims.Count(1, 5, 'B', 'd'), 'd').verdict == \
      claims.INCONCLUSIVE
  assert claims.share_above(many, 0.5, 's').verdict == claims.SUPPORTED
  assert claims.share_above(few, 0.5, 's').verdict == claims.CONTRADICTED
  assert claims.share_above(claims.Count(3, 5, 'A', 'd'), 0.5,
                            's').verdict == claims.INCONCLUSIVE
  x = _s([0.30, 0.301, 0.299, 0.300, 0.302])
  assert claims.within(x, 0.3, 0.01, 'rate').verdict == claims.SUPPORTED
  assert claims.within(x, 0.5, 0.01, 'rate').verdict == claims.CONTRADICTED
  assert claims.below(x, 0.4, 'r').verdict == claims.SUPPORTED
  assert claims.below(x, 0.2, 'r').verdict == claims.CONTRADICTED
  assert claims.above(x, 0.2, 'r').verdict == claims.SUPPORTED


S = claims.greater(_s(HI), _s(LO), 0.005, 'acc')
C = claims.greater(_s(LO), _s(HI), 0.005, 'acc')
I = claims.greater(_s(NOISY), _s(LO), 0.005, 'acc')


def test_across_all():
  assert claims.across([('a', S), ('b', S)]).verdict == claims.SUPPORTED
  assert claims.across([('a', S), ('b', C)]).verdict == claims.DEPENDS
  assert claims.across([('a', C), ('b', C)]).verdict == claims.CONTRADICTED
  some = claims.across([('a', S), ('b', I)])
  assert some.verdict == claims.INCONCLUSIVE
  assert 'supported only in a' in some.evidence
  assert claims.across([('a', C), ('b', I)]).verdict == claims.CONTRADICTED
  assert claims.across([]).verdict == claims.INCONCLUSIVE


def test_across_and_is_a_conjunction():
  assert claims.across([('a', S), ('b', S)], 'and').verdict == \
      claims.SUPPORTED
  assert claims.across([('a', S), ('b', C)], 'and').verdict == \
      claims.CONTRADICTED
  assert claims.across([('a', S), ('b', I)], 'and').verdict == \
      claims.INCONCLUSIVE


def test_across_any_is_an_existence_claim():
  assert claims.across([('a', I), ('b', S)], 'any').verdict == \
      claims.SUPPORTED
  assert claims.across([('a', C), ('b', C)], 'any').verdict == \
      claims.INCONCLUSIVE


def test_less_overfitting_needs_the_gap_and_the_test_accuracy():
  small, big = _s([0.01, 0.012, 0.011, 0.009, 0.01]), _s(
      [0.05, 0.052, 0.049, 0.051, 0.05])
  same, worse = _s([0.85, 0.851, 0.849, 0.85, 0.852]), _s(
      [0.82, 0.821, 0.819, 0.82, 0.822])
  assert claims.less_overfitting(small, big, same, same, 0.01,
                                 0.005).verdict == claims.SUPPORTED
  # The gap closed by underfitting: test accuracy 3 points down.
  closed = claims.less_overfitting(small, big, worse, same, 0.01, 0.005)
  assert closed.verdict == claims.CONTRADICTED
  assert 'contradicted in test accuracy' in closed.evidence


def test_across_some_fails_only_where_every_case_fails():
  assert claims.across([('a', I), ('b', S)], 'some').verdict == \
      claims.SUPPORTED
  both = claims.across([('a', C), ('b', C)], 'some')
  assert both.verdict == claims.CONTRADICTED
  # The largest of the Holm-adjusted p's of contradiction: every case must
  # be rejected (an intersection-union test).
  assert both.p == max(v.p_contradict for _, v in both._adjusted())
  assert claims.across([('a', C), ('b', I)], 'some').verdict == \
      claims.INCONCLUSIVE
  # As a case of an enclosing claim it keeps that meaning.
  outer = claims.across([('x', both), ('y', C)], 'all')
  assert outer.verdict == claims.CONTRADICTED
  assert outer.derive() == outer.verdict


def test_a_nested_case_shows_its_outer_holm_p_and_its_deciding_test():
  # The deciding case is a combination: its printed Holm p is the one
  # adjusted over the outer cases (3 of them), and the row's result is the
  # test inside it that decides, not a case whose p happens to be close.
  inner = claims.across([('i1', S), ('i2', C)], 'and')  # contradicted by i2
  outer = claims.across([('nested', inner), ('b', I), ('c', I)], 'all')
  assert outer.verdict == claims.CONTRADICTED
  p_inner = inner.summary()[1]
  p_outer = min(1.0, 3 * p_inner)  # Holm's first step over 3 cases
  assert outer.p == pytest.approx(p_outer)
  assert f'[nested: contradicted, Holm p{claims._p(p_outer)}]' in \
      outer.evidence  # pylint: disable=protected-access
  assert outer.shown() is C.result
  assert outer.shown_case() == ('nested / i2', C.result)
  assert C.shown_case() == ('', C.result)  # a leaf names no case


def test_holm_can_undo_a_case_that_is_significant_alone():
  a, b = _s([.1, .2, .3, .4, .5]), _s([.3, .4, .5, .6, .7])  # p = 0.0403
  # (not whole numbers: whole-number counts take the permutation test)
  with claims.alpha_of(0.05):
    alone = claims.less(a, b, 0.01, 'x')
    assert alone.verdict == claims.SUPPORTED
    both = claims.across([('one', alone), ('two', alone)])
    assert both.verdict == claims.INCONCLUSIVE  # Holm: 2 x 0.0403 > 0.05
    assert both.derive() == both.verdict


def test_a_remapped_verdict_is_a_rule_error():
  bent = dataclasses.replace(C, verdict=claims.DEPENDS)
  claim = claims.Claim('003 Q3', 'q', 't', lambda ev: bent)
  (got,) = claims.evaluate([claim], claims.fabricate({}))
  assert got['verdict'] == claims.ERROR and 'cannot remap' in got['evidence']
  lifted = dataclasses.replace(I, verdict=claims.SUPPORTED)
  claim = claims.Claim('003 Q3', 'q', 't', lambda ev: lifted)
  assert claims.evaluate([claim], claims.fabricate({}))[0]['verdict'] == \
      claims.ERROR
  typed = claims.Claim('003 Q3', 'q', 't', lambda ev: 'supported')
  assert claims.evaluate([typed], claims.fabricate({}))[0]['verdict'] == \
      claims.ERROR


def test_an_existence_claim_cannot_be_contradicted():
  claim = claims.Claim('003 Q3', 'q', 't', lambda ev: C, existence=True)
  (got,) = claims.evaluate([claim], claims.fabricate({}))
  assert got['verdict'] == claims.ERROR and 'existence' in got['evidence']


def test_missing_trial_is_inconclusive_and_any_other_error_is_an_error():
  ev = claims.fabricate({'rate=0.1': {'acc': HI}})
  missing = claims.Claim('000 Q2', 'q', 't', lambda ev: claims.greater(
      ev.sample(ev.trial(rate=0.5), 'acc'), ev.sample('rate=0.1', 'acc'),
      0.01, 'acc'))
  (got,) = claims.evaluate([missing], ev)
  assert got['verdict'] == claims.INCONCLUSIVE
  assert got['evidence'].startswith('not in this grid')
  crash = claims.Claim('000 Q2', 'q', 't', lambda ev: 1 / 0)
  assert claims.evaluate([crash], ev)[0]['verdict'] == claims.ERROR
  off_table = claims.Claim('000 Q2', 'q', 't', lambda ev: claims.below(
      ev.sample('rate=0.1', 'loss'), 1.0, 'loss'))
  (got,) = claims.evaluate([off_table], ev)
  assert got['verdict'] == claims.ERROR and 'not in the table' in \
      got['evidence']


def test_a_failed_precondition_names_the_regime():
  ev = claims.fabricate({'dropout_rate=0.0': {'gap': [0.01, 0.02, 0.02],
                                              'acc': LO[:3]},
                         'dropout_rate=0.3': {'gap': [0.0] * 3,
                                              'acc': HI[:3]}})
  claim = claims.Claim(
      '000 Q2', 'q', 't',
      lambda ev: claims.less(ev.sample(ev.trial(dropout_rate=0.3), 'gap'),
                             ev.sample(ev.trial(dropout_rate=0.0), 'gap'),
                             0.01, 'gap'),
      regime=(claims.requires(
          "the baseline's train-val gap",
          lambda ev: ev.sample(ev.trial(dropout_rate=0.0), 'gap'), '>=',
          0.05),))
  (got,) = claims.evaluate([claim], ev)
  assert got['verdict'] == claims.INCONCLUSIVE
  assert got['evidence'] == ("regime not reached: the baseline's train-val "
                             'gap: 0.01667 (mean of 3) is not >= 0.05')


def test_the_record_states_effect_interval_p_n_and_detectable_effect():
  claim = claims.Claim('003 Q3', 'q', 't', lambda ev: S)
  (got,) = claims.evaluate([claim], claims.fabricate({}))
  assert got['verdict'] == claims.SUPPORTED and got['test'] == 'Welch t'
  assert got['n'] == [5, 5] and got['p'] < 0.05
  assert got['ci'][0] < got['effect'] < got['ci'][1]
  assert got['mde'] > 0 and got['form'] == 'x > x (margin 0.005)'


def test_fabricate_parses_axis_values_and_trial_lookup():
  ev = claims.fabricate({'optimizer.name=adam,schedule.name=cosine':
                         {'acc': HI},
                         'optimizer.name=adam,schedule.name=constant':
                         {'acc': LO}})
  assert ev.trial(**{'schedule.name': 'cosine'}).endswith('cosine')
  assert ev.find(name='sgd') is None
  with pytest.raises(claims.MissingTrial):
    ev.trial(learning_rate=0.1)
  assert ev.headers() == ['acc']


def _run(seed, val, test, status='done', fold=-1, best=3, ran=3,
         classes=10):
  config = {'trial': 'rate=0.3', 'overrides': {'model.dropout_rate': 0.3},
            'seed': seed, 'fold': fold,
            'config': {'data.name': 'fashion_mnist',
                       'data.classes': list(range(classes))}}
  final = {'test_accuracy': test, 'val_accuracy': val, 'best_epoch': best,
           'epochs_run': ran, 'restored_best': True}
  return report.Run(f'/r/{seed}/{fold}', config,
                    {'status': status, 'final': final},
                    _metrics=[{'epoch': ran, 'val_accuracy': val}])


def test_evidence_from_runs_counts_collapsed_and_diverged_seeds():
  runs = [_run(0, 0.85, 0.84), _run(1, 0.86, 0.85),
          _run(2, 0.105, 0.10),  # ended at chance: collapsed
          _run(3, math.nan, math.nan, status='diverged')]
  ev = claims.Evidence.from_runs({'rate=0.3': runs},
                                 [report.DEFAULT_COLUMNS[1]])
  assert ev.table['rate=0.3']['status'] == ['done', 'done', 'collapsed',
                                            'diverged']
  s = ev.sample('rate=0.3', 'test acc', 'dropout 0.3')
  assert s.values.tolist() == [0.84, 0.85]
  assert (s.collapsed, s.no_value, s.seeds) == (2, 0, 4)
  assert '2 of 4 diverged or collapsed to chance, left out' in s.describe()
  assert ev.count('rate=0.3', claims.COLLAPSED).k == 1
  assert ev.count('rate=0.3', claims.DIVERGED).k == 1
  kept = ev.sample('rate=0.3', 'test acc', keep_collapsed=True)
  assert kept.values.tolist() == [0.84, 0.85, 0.10]
  assert kept.no_value == 1  # the diverged seed has no finite value
  assert '1 of 4 diverged or collapsed to chance, kept' in kept.describe()


def test_a_diverged_seed_with_a_restored_value_is_left_out():
  """A seed that diverged keeps the finite metrics of the epoch restored
  before it blew up (near chance): it is not a comparison arm."""
  runs = [_run(0, 0.85, 0.84), _run(1, 0.10, 0.10, status='diverged')]
  ev = claims.Evidence.from_runs({'t': runs}, [report.DEFAULT_COLUMNS[1]])
  assert ev.sample('t', 'test acc').values.tolist() == [0.84]


def test_cross_validation_folds_average_into_one_value_per_seed():
  runs = [_run(0, 0.8, 0.80, fold=0), _run(0, 0.8, 0.90, fold=1),
          _run(1, 0.8, 0.70, fold=0), _run(1, 0.8, 0.72, fold=1)]
  ev = claims.Evidence.from_runs({'t': runs}, [report.DEFAULT_COLUMNS[1]])
  assert ev.sample('t', 'test acc').values == pytest.approx([0.85, 0.71])


def test_restored_best_epoch_is_stated_as_the_basis():
  runs = [_run(0, 0.85, 0.84, best=2, ran=5), _run(1, 0.86, 0.85)]
  ev = claims.Evidence.from_runs({'t': runs}, [report.DEFAULT_COLUMNS[1]])
  s = ev.sample('t', 'test acc')
  assert s.basis == 'restored best epoch in 1 of 2 seeds'
  v = claims.greater(s, _s(LO), 0.005, 'acc')
  assert 'basis: t: restored best epoch in 1 of 2 seeds' in v.evidence


def test_a_restored_table_shows_the_last_epoch_beside():
  runs = [_run(0, 0.85, 0.84, best=2, ran=5)]
  text = report.table({'t': runs})
  assert 'val acc @last' in text.splitlines()[0]
  assert 'val acc @last' not in report.table({'t': [_run(0, .8, .8)]})


def test_smoke_verdicts_are_labelled():
  assert claims.label('supported', 'default') == 'SUPPORTED'
  assert claims.label('supported', 'smoke').startswith('not evaluated')


def test_nested_cases_are_adjusted_as_one_test_each():
  """An 'any' over two 'and' cases: each case counts as one test (its
  largest p of support), and Holm adjusts over the two."""
  a, b = _s([.1, .2, .3, .4, .5]), _s([.3, .4, .5, .6, .7])  # p = 0.0403
  # (not whole numbers: whole-number counts take the permutation test)
  with claims.alpha_of(0.05):
    strong = claims.less(_s(LO), _s(HI), 0.005, 'x')
    weak = claims.less(a, b, 0.01, 'x')
    case = claims.across([('strong', strong), ('weak', weak)], 'and')
    assert case.verdict == claims.SUPPORTED  # the larger part's p, 0.0403
    assert case.p == pytest.approx(weak.p_support, rel=1e-6)
    both = claims.across([('bias 0', case), ('bias 0.1', case)], 'any')
    assert both.verdict == claims.INCONCLUSIVE  # Holm over the two cases
    assert both.derive() == both.verdict


def test_a_bent_verdict_inside_cases_is_caught():
  inner = claims.across([('a', I)], 'all')
  bent = dataclasses.replace(inner, verdict=claims.SUPPORTED)
  outer = claims.across([('x', bent)], 'any')
  claim = claims.Claim('003 Q3', 'q', 't', lambda ev: outer)
  assert claims.evaluate([claim], claims.fabricate({}))[0]['verdict'] == \
      claims.ERROR


def test_an_exact_case_takes_no_share_of_holms_correction():
  # A deterministic count (p 0 or 1) cannot be a false discovery: beside it,
  # a sampled case keeps its own p instead of Holm's doubled one.
  exact = lambda v: claims.Sample(np.array([v] * 5, np.float64), 'count', 5,
                                  exact=True)
  count = claims.greater(exact(11.0), exact(11.0), 1, 'matmuls')
  assert count.result.test == 'exact (deterministic)'
  sampled = claims.greater(_s([1, 2, 3, 4, 5]), _s([0, 0.5, 1, 1.5, 2]), 0.1,
                           'epochs')
  alone = sampled.p_support
  both = claims.across([('count', count), ('sampled', sampled)], 'some')
  adjusted = dict(both._adjusted())  # pylint: disable=protected-access
  assert adjusted['sampled'].p_support == pytest.approx(alone)
  assert adjusted['count'].verdict == claims.CONTRADICTED
  # Two sampled cases are corrected as before.
  two = claims.across([('a', sampled), ('b', sampled)], 'all')
  assert dict(two._adjusted())['a'].p_support == pytest.approx(  # pylint: disable=protected-access
      min(1.0, 2 * alone))


def test_paired_differences_match_seeds_and_count_the_failed():
  ev = claims.fabricate(
      {'a': {'acc': [0.9, 0.8, None, 0.7]}, 'b': {'acc': [0.5, 0.6, 0.4, 0.1]}},
      status={'a': ['done', 'done', 'done', 'done'],
              'b': ['done', 'done', 'done', 'collapsed']})
  got = ev.paired(('a', 'acc'), ('b', 'acc'), 'a - b')
  np.testing.assert_allclose(got.values, [0.4, 0.2])  # seeds 0 and 1
  assert (got.seeds, got.no_value, got.collapsed) == (4, 1, 1)
