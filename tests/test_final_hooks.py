"""The final hooks of the ablation suite II (dlexp.analysis): calibration,
per-class recall, weight sparsity and sparse size, activation zeros with
dropout, BatchNorm parameters and train-mode accuracy, the last epoch's
parameters, prediction time."""
import numpy as np
import pytest

from conftest import tiny_config
from dlexp import analysis
from dlexp.train import runner

QUIET = runner.Printer(quiet=True)


def test_ece_against_hand_computed_bins():
  # Bin (14/15, 1]: two examples at 0.95, one right -> |0.5 - 0.95| = 0.45;
  # bin (8/15, 9/15]: two at 0.55, both right -> |1 - 0.55| = 0.45.
  conf = np.array([0.95, 0.95, 0.55, 0.55])
  correct = np.array([1.0, 0.0, 1.0, 1.0])
  assert analysis.expected_calibration_error(conf, correct) == pytest.approx(
      0.45)
  # Weights: padding (weight 0) is left out; a 3:1 weighting moves the mean.
  w = np.array([3.0, 1.0, 0.0, 0.0])
  assert analysis.expected_calibration_error(conf, correct, 15, w) == (
      pytest.approx(abs(0.75 - 0.95)))
  # Perfect calibration: 70% right at confidence 0.7.
  conf = np.full(10, 0.7)
  correct = np.array([1.0] * 7 + [0.0] * 3)
  assert analysis.expected_calibration_error(conf, correct) == pytest.approx(
      0.0, abs=1e-12)


def test_probabilities_per_loss():
  logits = np.array([[2.0, 0.0, -1.0], [1.2, -0.3, 0.4], [-1., -2., -3.]])
  p = analysis.probabilities(logits, 'cross_entropy')
  np.testing.assert_allclose(p[0], np.exp(logits[0]) / np.exp(logits[0]).sum())
  # Regression outputs on one-hot targets: clipped to [0, 1], renormalized;
  # all clipped to 0 is uniform.
  q = analysis.probabilities(logits, 'mse')
  np.testing.assert_allclose(q[0], [1.0, 0.0, 0.0])
  np.testing.assert_allclose(q[1], [1.0 / 1.4, 0.0, 0.4 / 1.4])
  np.testing.assert_allclose(q[2], [1 / 3] * 3)


def test_sparse_bytes_is_scipy_csr():
  w = np.zeros((100, 10), np.float32)
  w[::10, 3] = 1.0  # 10 nonzeros
  assert analysis.sparse_bytes(w) == 10 * 4 + 10 * 4 + 101 * 4


def test_hooks_on_a_tiny_run(tmp_path):
  config = tiny_config(epochs=2)
  hooks = [analysis.calibration_hook(), analysis.class_recall_hook((1, 2)),
           analysis.weight_sparsity_hook(), analysis.activation_zeros_hook,
           analysis.batch_norm_hook, analysis.last_epoch_hook,
           analysis.predict_time_hook(mc_samples=3, repeats=2)]
  results = runner.run(config, [{'model.dropout_rate': [0.0, 0.5]},
                                {'model.norm': ['batch']},
                                {'model.dropout': ['classic'],
                                 'model.dropout_rate': [0.5]}],
                       str(tmp_path), out=QUIET, final_hooks=hooks)
  by = {r['trial']: r for r in results}
  assert list(by) == ['dropout_rate=0', 'dropout_rate=0.5', 'norm=batch',
                      'dropout=classic,dropout_rate=0.5']
  # Inverted dropout compiles to nothing at inference; classic dropout
  # scales by 1 - rate there.
  for name, r in by.items():
    assert r['predict_same_program'] == (0.0 if 'classic' in name else 1.0)
  for r in results:
    assert 0 <= r['ece'] <= 1 and 0.1 <= r['confidence'] <= 1
    recalls = [r[f'recall_{c}'] for c in range(10)]
    assert r['balanced_accuracy'] == pytest.approx(np.mean(recalls))
    assert r['minority_recall'] == pytest.approx(np.mean(recalls[1:3]))
    # Dense training: no kernel weight is exactly 0; CSR of a dense kernel
    # costs values + indices: about twice the dense bytes.
    assert r['kernel_zero_fraction'] == 0
    assert 0 <= r['kernel_small_fraction'] < 0.05
    assert 1.9 < r['size_ratio'] < 2.1
    # restore_best with a best epoch that is the last: the same numbers.
    if r['best_epoch'] == 2:
      assert r['last_test_accuracy'] == pytest.approx(r['test_accuracy'])
    # Times only: their ratios are at the mercy of the machine's load.
    assert r['predict_ms'] > 0 and r['mc_predict_ms'] > 0
  # Dropout at 0.5 zeros half of the units ReLU left nonzero, in training
  # only: 1 - (1 - z)(1 - 0.5) with z the inference-mode zero fraction.
  half = by['dropout_rate=0.5']
  z = half['act_zero_inference']
  assert half['act_zero_train'] == pytest.approx(1 - (1 - z) * 0.5, abs=0.03)
  none = by['dropout_rate=0']
  assert none['act_zero_train'] == pytest.approx(none['act_zero_inference'])
  # Without BatchNorm: no gamma/beta, and training mode is inference mode.
  assert none['bn_gamma_mean'] is None or np.isnan(none['bn_gamma_mean'])
  assert none['bn_mode_gap'] == 0
  bn = by['norm=batch']
  assert 0.5 < bn['bn_gamma_mean'] < 1.5 and abs(bn['bn_beta_mean']) < 0.5
  assert 0 <= bn['val_accuracy_train_mode'] <= 1
  assert -1 <= bn['bn_mode_gap'] <= 1
