"""docs/COVERAGE.md: every question of the notes, and what answers it.

    python -m dlexp.coverage [--write docs/COVERAGE.md]

Lists each question or section of the notes (../shared/seeds) by the notes'
own labels, with the claims the experiment scripts test for it, or why none
is tested. QUESTIONS and WHY_NOT are kept by hand here; the claims are read
from the scripts. tests/test_coverage.py checks that the file is current,
that every claim's label is a question below, and that every question has a
claim or a reason.
"""
import argparse
import glob
import os
import sys
from typing import Dict, List, Sequence, Tuple

from dlexp import findings

# (label, the question in a few words). 002 opens with a copy of 000's
# questions (its "Assignment No.: 7", labelled as 000's); its own,
# "Assignment No.: 6", are labelled A6 Q1-Q7 and A6 PA (the practical
# assignment), so that no label names two questions of the file.
QUESTIONS: Tuple[Tuple[str, str], ...] = (
    ('000 Q1', 'What is a dead ReLU, and why does it occur?'),
    ('000 Q2', 'What is dropout; how does it prevent overfitting?'),
    ('000 Q3', 'Dropout rate 0.3: the probability a neuron is dropped'),
    ('000 Q4', 'Early stopping: advantages and drawbacks'),
    ('000 Q5', 'Transfer learning: the idea and its benefits'),
    ('001 Q6', 'What is dropout and how does it help training?'),
    ('001 Q7', 'How to choose the number of layers and neurons'),
    ('001 Q8', 'Transfer learning: when is it beneficial?'),
    ('001 Q9', 'Loss functions and how to select one'),
    ('002 A6 Q1', 'The purpose of batch normalization'),
    ('002 A6 Q2', 'Batch norm\'s two steps: normalization, scale/shift'),
    ('002 A6 Q3', 'Batch norm\'s gamma and beta'),
    ('002 A6 Q4', 'AlexNet\'s contribution'),
    ('002 A6 Q5', 'VGG\'s filter size'),
    ('002 A6 Q6', 'GoogLeNet\'s inception module'),
    ('002 A6 Q7', 'ResNet\'s innovation for deep networks'),
    ('002 A6 PA', 'Practical assignment: VGG16 and ResNet50 on CIFAR-10'),
    ('003 Q1', 'Same-value weights drawn with He initialization?'),
    ('003 Q2', 'Bias terms initialized to 0?'),
    ('003 Q3', 'Three advantages of ELU over ReLU'),
    ('003 Q4', 'When to use ELU, leaky ReLU, ReLU, tanh, logistic, softmax'),
    ('003 Q5', 'Momentum too close to 1'),
    ('003 Q6', 'Three ways to produce a sparse model'),
    ('003 Q7', 'Does dropout slow down training; inference?'),
    ('004 G1', 'Sigmoid and ReLU activations'),
    ('004 G2', 'Backpropagation and the chain rule'),
    ('004 G3', 'Overfitting and two ways to mitigate it'),
    ('004 G4', 'Convolution; why CNNs suit images'),
    ('004 G5', 'Recurrent networks'),
    ('004 G6', 'Gradient descent and the learning rate'),
    ('004 G7', 'Batch normalization and its benefits'),
    ('004 G8', 'The vanishing gradient problem'),
    ('004 G9', 'Transfer learning: a scenario and its benefits'),
    ('004 G10', 'Dropout: how it works, why it is used'),
    ('004 K1', 'Keras: a simple feedforward network'),
    ('004 K2', 'Keras: compiling a model'),
    ('004 K3', 'Keras: training (epochs, batch size, validation)'),
    ('004 K4', 'Keras: data preprocessing'),
    ('004 K5', 'Keras: dropout and L2 regularization'),
    ('004 K6', 'Keras: early stopping'),
    ('004 K7', 'Keras: evaluating a model'),
    ('004 K8', 'Keras: saving and loading a model'),
    ('004 K9', 'Keras: hyperparameter tuning'),
    ('004 K10', 'Keras: transfer learning with pre-trained models'),
)

# Why a question has no claim tested (a definition checked by a unit test is
# a reason; "not done" is not). Only for questions without claims.
WHY_NOT: Dict[str, str] = {
    '004 K1': 'a definition: the model is built and checked by '
              'tests/test_api.py (dlexp.Sequential / fit)',
    '002 A6 Q4': 'historical statements (AlexNet introduced LRN, ReLU, '
              'dropout, GPUs), not effects; Krizhevsky et al. 2012\'s own '
              'claims that LRN lowers the error (Section 3.3) and that ReLU '
              'nets train several times faster than tanh nets (Section 3.1) '
              'are tested as outside claims in cnn_families',
    '004 K2': 'a definition (the optimizer, the loss and the metric a '
              'Keras model compiles with): dlexp\'s optimizers and losses are '
              'checked by tests/test_optim.py and tests/test_losses.py; '
              'experiments/optimizers.py measures which optimizer and '
              'schedule train fastest but tests no claim',
    '004 K8': 'a description of Keras\' API (save, load_model): dlexp\'s '
              'own save/load round trip is checked by tests/test_api.py and '
              'keras_workflow.py\'s API table, which is no test of Keras',
    '004 K3': 'a definition: epochs, batch size and the validation split '
              'are config fields, checked by tests/test_api.py and '
              'tests/test_data.py',
    '004 K7': 'a definition: evaluation on the test split is checked by '
              'tests/test_api.py',
}


# Questions and statements of the notes that no script tests yet: open work
# (issue 27), shown in COVERAGE.md as such, never as covered.
NOT_YET: Dict[str, str] = {}
# Statements inside covered questions that have no row yet.
OPEN_STATEMENTS: Tuple[Tuple[str, str], ...] = (
)


# Statements inside covered questions that no claim tests, each with its
# reason (a definition checked by a unit test, a statement of usage or
# history, a setting that cannot run here).
UNTESTED_STATEMENTS: Tuple[Tuple[str, str], ...] = (
    ('003 Q7', '"it is common to increase the activations during inference '
               'by a factor equal to the dropout rate": a statement of common '
               'practice, not an effect this library can measure (its own '
               'inverted dropout layer has factor 1 by design, so a test of '
               'it could not fail); Keras\' and PyTorch\'s Dropout layers '
               'scale the kept units by 1/(1 - rate) at training time and do '
               'nothing at inference (their documented behaviour)'),
    ('001 Q6', '"the remaining neurons are scaled to maintain the expected '
               'output ... During Testing: ... their activations are scaled '
               'down by the dropout rate": arithmetic, not an effect a run '
               'can show. With kept units scaled by 1/(1 - r) in training '
               '(the first half; tests/test_dropout.py checks that the '
               'training expectation equals the inference output), the '
               'expected output already matches at test with factor 1, and '
               'scaling down again would shrink it by (1 - r). Classic '
               'dropout (model.dropout=\'classic\') scales at test instead, by '
               'the keep probability 1 - r, not by the rate. A test of the '
               'library\'s own layer against either could not fail (a '
               'referee\'s dispute)'),
    ('004 G1', 'sigmoid "often used in binary classification problems and '
               'as an output activation in the final layer": a statement of '
               'usage, not an effect; sigmoid outputs with one-vs-rest binary '
               'cross-entropy are trained in activation_choice against '
               'softmax (003 Q4)'),
    ('004 G10', '"During inference, dropout is turned off, and the full '
                'network is used to make predictions": an implementation '
                'fact, checked by tests/test_dropout.py (inference is the '
                'identity for inverted dropout) and tests/test_final_hooks.py '
                '(the compiled inference program with dropout layers is the '
                'one without them)'),
    ('004 G4', '"These filters slide over the input, computing dot '
               'products at each position": a definition, checked by '
               'tests/test_cnn_vs_mlp.py::test_conv_is_a_sliding_dot_product'),
    ('004 G4', '"Features like edges, textures, and patterns are captured in '
               'lower layers": what the lower layers detect is not measured; '
               'cnn_vs_mlp\'s probe claim tests only how well the classes '
               'decode at each depth'),
    ('004 G5', 'RNNs "beneficial in natural language processing tasks like '
               'language translation": no parallel corpus is stored here and '
               'nothing may be downloaded; rnn_sequence\'s MNIST-1D is a '
               'synthetic sequence task, not language'),
)


def claims_by_label(directory: str) -> Dict[str, List[Tuple[str, Dict]]]:
  """{label: [(script, claim fields)]} over every script in `directory`."""
  out: Dict[str, List[Tuple[str, Dict]]] = {}
  for path in sorted(glob.glob(os.path.join(directory, '*.py'))):
    script = os.path.basename(path)[:-3]
    for claim in findings.load_script(script, directory).CLAIMS:
      out.setdefault(claim.source, []).append((script, dict(
          quote=claim.quote, tested_as=claim.tested_as,
          outside=claim.outside, existence=claim.existence)))
  return out


def build(found: Dict[str, List[Tuple[str, Dict]]]) -> str:
  lines = ['# Coverage of the notes', '',
           'Generated by `python -m dlexp.coverage --write docs/COVERAGE.md` '
           'from the experiment scripts\' claims and the hand-kept list in '
           'dlexp/coverage.py; do not edit. Labels are the notes\' own: file '
           '(000-004), then Q<n> for a question, G<n> and K<n> for file '
           '004\'s theory and Keras groups, PA for 002\'s practical '
           'assignment. Verdicts are in FINDINGS.md.', '']
  for label, title in QUESTIONS:
    lines += [f'## {label}: {title}', '']
    mine = [(s, c) for s, c in found.get(label, []) if not c['outside']]
    for script, c in mine:
      kind = ' (existence claim)' if c['existence'] else ''
      lines.append(f'- "{c["quote"]}"{kind}: {c["tested_as"]} '
                   f'([{script}](../experiments/{script}.py))')
    if not mine and label in NOT_YET:
      lines.append(f'- **Not tested yet** (open): {NOT_YET[label]}')
    elif not mine:
      lines.append(f'- No claim tested: {WHY_NOT.get(label, "MISSING")}')
    lines += [f'- **Not tested yet** (open): {what}'
              for at, what in OPEN_STATEMENTS if at == label]
    lines += [f'- Not tested, and why: {why}'
              for at, why in UNTESTED_STATEMENTS if at == label]
    lines.append('')
  outside = [(label, s, c) for label, cs in sorted(found.items())
             for s, c in cs if c['outside']]
  if outside:
    lines += ['## From outside the notes', '']
    lines += [f'- {c["outside"]} ({label}): "{c["quote"]}": {c["tested_as"]} '
              f'([{s}](../experiments/{s}.py))' for label, s, c in outside]
  return '\n'.join(lines).rstrip() + '\n'


def problems(found: Dict[str, List[Tuple[str, Dict]]]) -> List[str]:
  """Labels of claims that are no question, questions with neither a claim
  nor a reason, and reasons kept for questions that now have claims."""
  labels = {label for label, _ in QUESTIONS}
  out = [f'{s}: label {label!r} is no question of the notes'
         for label, cs in found.items() for s, c in cs
         if label not in labels and not c['outside']]
  for label in labels:
    has = any(not c['outside'] for _, c in found.get(label, []))
    if not has and label not in WHY_NOT and label not in NOT_YET:
      out.append(f'{label}: no claim and no reason in WHY_NOT')
    if has and (label in WHY_NOT or label in NOT_YET):
      out.append(f'{label}: has claims; drop its WHY_NOT / NOT_YET entry')
  out += [f'{label}: a statement listed under no question of the notes'
          for label, _ in OPEN_STATEMENTS + UNTESTED_STATEMENTS
          if label not in labels]
  return sorted(out)


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(prog='python -m dlexp.coverage')
  parser.add_argument('--write', metavar='PATH')
  args = parser.parse_args(argv)
  found = claims_by_label(findings.EXPERIMENTS_DIR)
  text = build(found)
  for p in problems(found):
    print(f'warning: {p}', file=sys.stderr)
  if args.write:
    with open(args.write, 'w') as f:
      f.write(text)
    print(f'wrote {args.write}')
  else:
    print(text)
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
