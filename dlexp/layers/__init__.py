"""Building blocks shared by all models: activations, inits, dropout, norms."""
from dlexp.layers.activations import ACTIVATIONS, Activation, make_activation
from dlexp.layers.dropout import (DROPOUTS, Dense, DenseDropConnect, Dropout,
                                  make_dropout, mc_dropout_predict)
from dlexp.layers.initializers import (INITIALIZERS, make_bias_init,
                                       make_initializer)
from dlexp.layers.normalization import (LocalResponseNorm, Norm, make_norm)
