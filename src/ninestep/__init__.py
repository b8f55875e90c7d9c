"""ninestep: neural networks from scratch in NumPy, in the article's nine steps.

The package lists like the pipeline: ``data`` (steps 2-3), ``scaling``
(4), ``layers`` and ``network`` (5-7), ``activations`` (6), ``losses`` (7),
``optimizers``, ``callbacks`` and ``training`` (8), ``metrics`` (9); then
the files (``archive``, ``model_file``, ``checkpoint``) and the
conveniences built on the core (``cli``, ``plotting``, ``sklearn``, ...).
``docs/architecture.md`` draws the layers.
"""

from . import article, callbacks, diagnostics
from .activations import get_activation
from .callbacks import Callback, DivergenceError, History, LossExplosionWarning
from .data import (make_arithmetic, make_circles, make_gauss, make_moons, make_sine, make_spirals, make_xor,
                   train_test_split)
from .diagnostics import DeadUnitTracker, dead_units
from .ensemble import Ensemble
from .gradcheck import check_gradients
from .layers import Dense
from .losses import get_loss
from .metrics import accuracy, confusion_matrix, loss_report, mae, mse, r2
from .model_file import ModelFileError, SavedModel, load, load_model, save_model
from .network import CapacityWarning, Network, count_params
from .optimizers import SGD, Adam
from .preprocessing import TablePreprocessor
from .scaling import StandardScaler
from .tabular import read_table
from .training import ConvergenceWarning, fit

__version__ = "0.1.0"


def to_onnx(model, path=None, **options):
    """Export a model to ONNX; see :func:`ninestep.onnx_export.to_onnx` (needs ``pip install 'ninestep[onnx]'``)."""
    from .onnx_export import to_onnx as export  # the exporter (and, when called, onnx) only on demand

    return export(model, path, **options)


__all__ = [
    "make_arithmetic", "make_moons", "make_spirals", "make_sine", "make_circles", "make_xor", "make_gauss",
    "train_test_split", "article", "diagnostics", "dead_units", "DeadUnitTracker",
    "StandardScaler", "TablePreprocessor", "read_table",
    "Dense", "Network", "count_params", "CapacityWarning",
    "get_activation", "get_loss",
    "SGD", "Adam",
    "Ensemble",
    "fit", "History", "Callback", "callbacks", "ConvergenceWarning", "DivergenceError", "LossExplosionWarning",
    "mse", "mae", "r2", "accuracy", "confusion_matrix", "loss_report",
    "check_gradients",
    "load", "load_model", "save_model", "SavedModel", "ModelFileError", "to_onnx",
    "__version__",
]
