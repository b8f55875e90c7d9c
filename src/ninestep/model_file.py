"""The model file: a trained network and everything needed to use it on raw data.

A model file is an archive of :mod:`ninestep.archive` (plain arrays plus a
JSON description; nothing that executes on load) holding

``__meta__``
    ``format`` ("ninestep"), ``format_version``, ``kind`` ("model"),
    ``layer_sizes``, ``activations`` (one per layer), ``dtype``, and
    optionally ``classes`` (class names), ``task``, ``feature_names``,
    ``target_names`` and ``info`` (free JSON).
``W0, b0, W1, b1, ...``
    each layer's weights (n_in, n_out) and biases (n_out,).
``x_mean, x_scale, y_mean, y_scale``
    the fitted scalers, when saved with the model.
``pre.*`` and the description's ``preprocessor``
    a :class:`~ninestep.preprocessing.TablePreprocessor` (imputation
    values, categories, missing-value indicators, scalers), when the model
    was trained on a raw table: then ``predict`` takes the table's raw
    columns, by name and in any order.

Nothing else: a member the description does not explain is refused, and
so is a training checkpoint (:mod:`ninestep.checkpoint`), which holds the
last epoch's weights and no scalers, so that no file ninestep writes can
give a silently different answer from the run's model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .archive import ArchiveError, _fail, read_description, read_network_archive, write_archive
from .network import Network
from .preprocessing import TablePreprocessor
from .scaling import StandardScaler

__all__ = ["ModelFileError", "SavedModel", "save_model", "load_model", "load"]

#: Raised for any file that cannot be read safely (a ValueError).
ModelFileError = ArchiveError

_SCALER_KEYS = ("x_mean", "x_scale", "y_mean", "y_scale")


@dataclass
class SavedModel:
    """Everything a model file holds: the network and what is needed to use it on raw data.

    ``predict`` takes raw inputs (as in the training data) and answers in
    original units, or with class names for a classifier.
    """

    net: Network
    x_scaler: StandardScaler | None = None
    y_scaler: StandardScaler | None = None
    classes: list | None = None
    task: str | None = None
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    info: dict = field(default_factory=dict)
    preprocessor: TablePreprocessor | None = None

    def _outputs(self, X: Any) -> np.ndarray:
        if self.preprocessor is not None:  # a raw table (columns by name), as the model was trained on
            return self.net.forward(self.preprocessor.transform(X))
        Xs = self.x_scaler.transform(X) if self.x_scaler is not None else X
        return self.net.forward(Xs)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class in ``classes`` (a classifier only)."""
        if self.classes is None:
            raise ValueError("predict_proba needs a classifier; this model is a regression model "
                             "(use predict).")
        out = self._outputs(X)  # (not net.predict_proba: a model file may name the classes of a linear output)
        return np.column_stack([1 - out[:, 0], out[:, 0]]) if out.shape[1] == 1 else out

    def predict(self, X: Any) -> np.ndarray:
        """Predictions in original units (class names for a classifier)."""
        if self.classes is not None:
            idx = self.predict_proba(X).argmax(axis=1)
            return np.asarray(self.classes, dtype=object if isinstance(self.classes[0], str) else None)[idx]
        out = self._outputs(X)
        if self.preprocessor is not None and self.preprocessor.target_scaler_ is not None:
            return self.preprocessor.target_scaler_.inverse_transform(out)
        return self.y_scaler.inverse_transform(out) if self.y_scaler is not None else out

    @property
    def holds_preprocessing(self) -> bool:
        """Whether ``predict`` does more than ``net.predict`` (scaling, encoding, class names)."""
        return (self.x_scaler is not None or self.y_scaler is not None or self.classes is not None
                or self.preprocessor is not None)


# ---------------------------------------------------------------------- writing
def _json_safe(values, name: str, length: int | None = None):
    if values is None:
        return None
    values = [v.item() if hasattr(v, "item") else v for v in values]
    if length is not None and len(values) != length:
        raise ValueError(f"{name} has {len(values)} entries but the network needs {length}.")
    return values


def _n_classes(net: Network) -> int:
    """How many class names a classifier with this output layer needs (2 for one sigmoid unit)."""
    return 2 if net.n_outputs == 1 else net.n_outputs


def save_model(path: str | os.PathLike, net: Network, *, x_scaler: StandardScaler | None = None,
               y_scaler: StandardScaler | None = None, classes=None, task: str | None = None,
               feature_names=None, target_names=None, info: dict | None = None,
               preprocessor: TablePreprocessor | None = None) -> Path:
    """Save ``net`` (and optionally its scalers and class names) to ``path`` (.npz), atomically.

    ``classes`` names the outputs of a classifier (2 names for a single
    sigmoid output, else one per output); ``feature_names`` one per input;
    ``info`` is any JSON object; ``preprocessor`` a fitted
    :class:`~ninestep.preprocessing.TablePreprocessor` whose output columns
    are the network's inputs. Raises ValueError for NaN weights or
    mismatched lengths, so that no file is written that could not be read.
    """
    if not isinstance(net, Network):
        raise TypeError(f"expected a ninestep.Network to save, got {type(net).__name__}.")
    meta, arrays = net.to_arrays()
    meta.update(kind="model", classes=_json_safe(classes, "classes", _n_classes(net)), task=task,
                feature_names=_json_safe(feature_names, "feature_names", net.n_inputs),
                target_names=_json_safe(target_names, "target_names"), info=info or {})
    for prefix, scaler, width in (("x", x_scaler, net.n_inputs), ("y", y_scaler, net.n_outputs)):
        if scaler is not None:
            if getattr(scaler, "mean_", None) is None or np.shape(scaler.mean_) != (width,):
                raise ValueError(f"{prefix}_scaler must be a StandardScaler fitted on {width} columns.")
            arrays[f"{prefix}_mean"], arrays[f"{prefix}_scale"] = scaler.mean_, scaler.scale_
    if preprocessor is not None:
        if not isinstance(preprocessor, TablePreprocessor):
            raise TypeError(f"preprocessor must be a fitted ninestep.TablePreprocessor, got {preprocessor!r:.60}.")
        pre_meta, pre_arrays = preprocessor.to_arrays()
        if len(preprocessor.get_feature_names_out()) != net.n_inputs:
            raise ValueError(f"the preprocessor makes {len(preprocessor.get_feature_names_out())} columns but the "
                             f"network takes {net.n_inputs} inputs.")
        meta["preprocessor"] = pre_meta
        arrays.update({f"pre.{k}": v for k, v in pre_arrays.items()})
    return write_archive(path, meta, arrays)


# ---------------------------------------------------------------------- reading
def _names(path, meta: dict, key: str, length: int | None) -> list | None:
    """A list of plain JSON scalars from the description (class, feature or target names), or None."""
    values = meta.get(key)
    if values is None:
        return None
    if (not isinstance(values, list) or any(not isinstance(v, (str, int, float)) or isinstance(v, bool)
                                            for v in values)):
        raise _fail(path, f"has an invalid {key!r} entry: expected a list of names, got {values!r:.80}.")
    if length is not None and len(values) != length:
        raise _fail(path, f"lists {len(values)} {key} but the network needs {length}.")
    return values


def _scaler(path, arrays, prefix: str, width: int) -> StandardScaler | None:
    mean, scale = arrays.get(f"{prefix}_mean"), arrays.get(f"{prefix}_scale")
    if mean is None and scale is None:
        return None
    if mean is None or scale is None or mean.shape != (width,) or scale.shape != (width,) or (scale <= 0).any():
        raise _fail(path, f"is inconsistent: the stored {prefix} scaler (mean, scale) does not fit a network "
                          f"with {width} {'inputs' if prefix == 'x' else 'outputs'}, or has a scale <= 0.")
    if mean.dtype.kind != "f" or scale.dtype.kind != "f":
        raise _fail(path, f"holds a {prefix} scaler of dtype {mean.dtype}/{scale.dtype}; scalers are floats.")
    return StandardScaler.from_params(mean.astype(np.float64), scale.astype(np.float64))


def load_model(path: str | os.PathLike) -> SavedModel:
    """Read a model file written by :func:`save_model` (or ``ninestep train``) safely.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError (a ValueError)
        Anything else: not a ninestep file, a pickle or object array,
        truncated or corrupted, inconsistent shapes, NaN, an unexpected
        member, a newer format, or a training checkpoint (which is not a
        model: it holds no scalers and the last epoch's weights).
    """
    meta, arrays, net = read_network_archive(path, "model", Network,
                                             lambda name: name in _SCALER_KEYS or name.startswith("pre."))
    classes = _names(path, meta, "classes", _n_classes(net) if meta.get("classes") is not None else None)
    task, info = meta.get("task"), meta.get("info") or {}
    if task is not None and task not in ("regression", "classification"):
        raise _fail(path, f"has an invalid 'task' entry {task!r:.40}.")
    if task == "classification" and (classes is None or net.output_activation not in ("softmax", "sigmoid")):
        raise _fail(path, f"is inconsistent: its task is 'classification' but it has "
                          f"{'no class names' if classes is None else 'a ' + repr(net.output_activation) + ' output'}.")
    if task == "regression" and classes is not None:
        raise _fail(path, "is inconsistent: its task is 'regression' but it lists class names.")
    # A regressor names each output; a classifier names its one target column (its outputs are the classes).
    n_targets = net.n_outputs if classes is None else 1
    if meta.get("target_names") is not None and meta.get("preprocessor") is None:
        _names(path, meta, "target_names", n_targets)
    if not isinstance(info, dict):
        raise _fail(path, "has an invalid 'info' entry (expected a JSON object).")
    return SavedModel(net=net, x_scaler=_scaler(path, arrays, "x", net.n_inputs),
                      y_scaler=_scaler(path, arrays, "y", net.n_outputs), classes=classes, task=task,
                      feature_names=_names(path, meta, "feature_names", net.n_inputs),
                      target_names=_names(path, meta, "target_names", None), info=info,
                      preprocessor=_preprocessor(path, meta, arrays, net))


def _preprocessor(path, meta: dict, arrays: dict[str, np.ndarray], net: Network) -> TablePreprocessor | None:
    described, stored = meta.get("preprocessor"), {k[4:]: v for k, v in arrays.items() if k.startswith("pre.")}
    if described is None:
        if stored:
            raise _fail(path, f"holds preprocessing arrays ({', '.join(sorted(stored))}) but no preprocessor "
                              "description; ninestep refuses files it did not write.")
        return None
    if not isinstance(described, dict):
        raise _fail(path, "has an invalid 'preprocessor' entry (expected a JSON object).")
    try:
        pre = TablePreprocessor.from_arrays(described, stored)
        width = len(pre.get_feature_names_out())
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"has an invalid preprocessor ({exc}).") from None
    if width != net.n_inputs:
        raise _fail(path, f"is inconsistent: its preprocessor makes {width} columns but the network takes "
                          f"{net.n_inputs} inputs.")
    return pre


def load(path: str | os.PathLike):
    """Load a ninestep file, ready to predict from the inputs it was trained on.

    * a bare network (``net.save(path)``): the :class:`Network`;
    * a model saved with scalers or class names (``save_model``,
      ``ninestep train``): the :class:`SavedModel`, whose ``predict`` takes
      raw inputs and answers in original units or class names (its
      ``.net`` is the network) - returning the bare network would silently
      drop the scaling that its predictions need;
    * an ensemble (``Ensemble.save``): the ``Ensemble``.
    """
    if read_description(path).get("kind") == "ensemble":
        from .ensemble import Ensemble  # only ensemble files need it; ensemble never imports this module

        return Ensemble.load(path)
    model = load_model(path)
    return model if model.holds_preprocessing else model.net
