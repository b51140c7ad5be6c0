"""Fabricated tables for experiments/optimizers.py: none. The script
measures which optimizer and schedule train fastest and tests no claim of
the notes (004 K2 is a definition; 002 A6 PA's training setting is
hyperparameter lines, its claims are vgg_cifar_failure's)."""

CASES = {}
