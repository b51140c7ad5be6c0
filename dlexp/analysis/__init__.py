"""Measurements that the ablation scripts add to the runner's records.

Final hooks (`runner.FinalHook`) run once per chunk of grid members on the
final (restored-best) parameters, which carry a leading member axis, and
return one number per member; the runner writes them into each run's
status.json under 'final', where report columns read them. Column helpers
read per-layer diagnostics back from metrics.jsonl.

One module per concern; every public name is re-exported here, so
`analysis.layer_stat` and the like need no module name:

- layers: reading per-layer diagnostics back from runs (layer_stat,
  layer_values, layer_ratio, run_layer_order, unit_revival).
- symmetry: distinct_units_hook, the symmetry of the first hidden layer
  (init_schemes).
- cost: param_count_hook; model_cost_hook, parameters and FLOPs of the model
  (or of it at another size).
- predictions: clean_train_accuracy_hook (train accuracy in inference mode,
  no dropout); last_epoch_hook (test metrics of the last epoch's parameters,
  what training without restore_best keeps); calibration_hook (expected
  calibration error); class_recall_hook (per-class recall, balanced
  accuracy, minority recall); logit_spread_hook (whether the logits still
  depend on the input).
- dropout: drop_frequency_hook (the fraction of units the model's own
  Dropout layer drops at each member's rate); logit_scale_hook (how much
  larger the logits are with dropout on); mc_dropout_hook (Monte-Carlo
  dropout accuracy and predictive entropy); activation_zeros_hook (zero
  activations with dropout on and off).
- speed: step_time_hook (compiled train-step time with dropout layers vs
  the same model without any); predict_time_hook (compiled prediction time
  with and without dropout layers, and the cost of MC dropout).
- sparsity: weight_sparsity_hook, exact and near zeros among the kernels,
  and the model's size stored dense and sparse (CSR).
- batch_norm: batch_norm_hook, learned gamma/beta, and accuracy with
  BatchNorm in training mode (batch statistics) next to inference mode.
- weights: weight_moments_hook, Klambauer et al.'s omega and tau of each
  hidden dense layer and whether they lie in their Theorem 1's domain.
- common: what the hooks share (member keys and hyperparameters).
"""
from dlexp.analysis.ablation import unit_ablation_hook
from dlexp.analysis.ablation import weight_size_hook
from dlexp.analysis.batch_norm import batch_norm_hook
from dlexp.analysis.common import member_hp
from dlexp.analysis.common import member_keys
from dlexp.analysis.cost import model_cost_hook
from dlexp.analysis.cost import param_count_hook
from dlexp.analysis.dropout import activation_zeros_hook
from dlexp.analysis.dropout import check_spatial_dropout
from dlexp.analysis.dropout import drop_frequency_hook
from dlexp.analysis.dropout import dropout_apply
from dlexp.analysis.dropout import dropped_fraction
from dlexp.analysis.dropout import logit_scale_hook
from dlexp.analysis.dropout import mc_dropout_hook
from dlexp.analysis.dropout import without_dropout
from dlexp.analysis.layers import is_finite
from dlexp.analysis.layers import layer_names
from dlexp.analysis.layers import layer_ratio
from dlexp.analysis.layers import layer_stat
from dlexp.analysis.layers import layer_values
from dlexp.analysis.layers import pick_layer
from dlexp.analysis.layers import REVIVAL_COUNTS
from dlexp.analysis.layers import run_layer_order
from dlexp.analysis.layers import unit_revival
from dlexp.analysis.predictions import calibration_hook
from dlexp.analysis.predictions import class_recall_hook
from dlexp.analysis.predictions import clean_train_accuracy_hook
from dlexp.analysis.predictions import expected_calibration_error
from dlexp.analysis.predictions import last_epoch_hook
from dlexp.analysis.predictions import logit_spread_hook
from dlexp.analysis.predictions import probabilities
from dlexp.analysis.sparsity import sparse_bytes
from dlexp.analysis.sparsity import weight_sparsity_hook
from dlexp.analysis.speed import predict_time_hook
from dlexp.analysis.speed import step_time_hook
from dlexp.analysis.symmetry import distinct_units
from dlexp.analysis.symmetry import distinct_units_hook
from dlexp.analysis.symmetry import first_kernel
from dlexp.analysis.symmetry import unit_spread
from dlexp.analysis.weights import weight_moments_hook
