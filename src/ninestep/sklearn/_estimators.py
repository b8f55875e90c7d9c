"""MLPRegressor and MLPClassifier: what differs between regression and classification."""

from __future__ import annotations

import numpy as np

from ._base import _BaseMLP  # first: it says which extra to install when scikit-learn is missing

from sklearn.base import ClassifierMixin, RegressorMixin  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.preprocessing import LabelBinarizer  # noqa: E402
from sklearn.utils.multiclass import (_check_partial_fit_first_call, check_classification_targets,  # noqa: E402
                                      type_of_target, unique_labels)
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data  # noqa: E402

__all__ = ["MLPRegressor", "MLPClassifier"]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: ninestep's network behind scikit-learn's interface.

    Minimises the ``mse`` loss ``(1/n) sum_i 1/2 ||y_hat_i - y_i||^2`` (plus
    the L2 term ``alpha / (2 n) sum ||W||^2``) with a linear output layer.
    Inputs are not standardised inside: put a ``StandardScaler`` in front,
    as with scikit-learn's estimator.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Width of each hidden layer.
    activation : {"relu", "tanh", "logistic", "identity", "leaky_relu"}, default "relu"
        Hidden activation (ninestep's names "sigmoid", "linear" work too).
    solver : {"adam", "sgd"}, default "adam"
    alpha : float, default 1e-4
        L2 penalty on the weights (not the biases).
    batch_size : int or "auto", default "auto"
        Rows per step; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        SGD only. "invscaling": after each epoch the rate becomes
        ``learning_rate_init / (t_ + 1) ** power_t``; "adaptive": when the
        loss (or validation score) stalls, divide the rate by 5 instead of
        stopping, until it falls below 1e-6.
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
        SGD with ``learning_rate="invscaling"`` only.
    max_iter : int, default 200
        Maximum number of epochs.
    shuffle : bool, default True
        Shuffle the rows every epoch.
    random_state : int, RandomState or None
        Seeds the initial weights, the shuffling and the validation split.
    tol : float, default 1e-4
    verbose : bool, default False
        Print the loss after each epoch.
    warm_start : bool, default False
        ``fit`` continues from the current weights instead of starting again.
    momentum : float, default 0.9
        SGD only.
    nesterovs_momentum : bool, default True
        SGD only.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data, stop when its R^2 has
        not improved by ``tol`` for ``n_iter_no_change`` epochs, and keep
        the best weights.
    validation_fraction : float, default 0.1
    beta_1, beta_2 : float, defaults 0.9, 0.999
        Adam only.
    epsilon : float, default 1e-8
        Adam only.
    n_iter_no_change : int, default 10
    init : str or None, default "glorot_uniform"
        Weight initialiser (see :mod:`ninestep.layers`); ``None`` is the
        ninestep core's choice, He-normal for ReLU. Glorot is the default
        here because with these defaults (one hidden layer of 100, at most
        200 Adam epochs at 1e-3) it started closer to uniform predictions
        and scored better than He on most data sets measured (docs/parity.md).
    bias_init : {"zeros", "same"}, default "zeros"
        ``"same"`` draws the biases like the weights, as scikit-learn does.

    Attributes
    ----------
    coefs_ : list of ndarray, coefs_[i] of shape (n_in, n_out)
    intercepts_ : list of ndarray, intercepts_[i] of shape (n_out,)
        Views into ``net_.params``: changing them changes the model.
    net_ : ninestep.Network
    loss_ : float
    loss_curve_ : list of float
        Training loss per epoch: the batch-size weighted mean of the batch
        losses before each update, L2 term included (scikit-learn's definition).
    best_loss_ : float or None
    validation_scores_ : list of float
        R^2 on the held-out set per epoch (``early_stopping`` only).
    best_validation_score_ : float
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
    t_ : int
        Training samples seen.
    n_features_in_ : int
    n_outputs_ : int
    n_layers_ : int
    out_activation_ : str
        "identity".
    """

    _loss = "mse"
    _output_activation = "linear"

    def _validate_input(self, X, y, *, incremental, reset):
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y)

    def _stratify(self, Y):
        return None

    def _decode(self, Y):
        return Y

    def _score_validation(self, X_val, Y_val) -> float:
        return float(r2_score(Y_val, self.net_.forward(X_val)))

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current weights and optimiser state."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        """Predictions of shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        y = self._forward(X)
        return y.ravel() if y.shape[1] == 1 else y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: ninestep's network behind scikit-learn's interface.

    Two classes, or several labels at once (multilabel), use one sigmoid
    output per label and ``binary_cross_entropy``; more than two classes use
    a softmax output and ``cross_entropy``. Labels may be any values
    (strings, ints); ``classes_`` lists them.

    Parameters are those of :class:`MLPRegressor`; with ``early_stopping``
    the validation score is the accuracy.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_, intercepts_, net_, loss_, loss_curve_, best_loss_, n_iter_, t_,
    n_features_in_, n_outputs_, n_layers_ : as for :class:`MLPRegressor`
    out_activation_ : str
        "logistic" or "softmax".
    """

    _loss = "cross_entropy"
    _output_activation = "softmax"

    def _initialize(self, n_features, n_outputs, dtype, rng):
        binary = n_outputs == 1 or self._label_binarizer.y_type_.startswith("multilabel")
        self._loss = "binary_cross_entropy" if binary else "cross_entropy"
        self._output_activation = "sigmoid" if binary else "softmax"
        super()._initialize(n_features, n_outputs, dtype, rng)

    def _validate_input(self, X, y, *, incremental, reset):
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        # Mirrors scikit-learn: fit defines classes_ (unless warm-starting), partial_fit
        # got them on its first call; later calls must not bring new classes.
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and set(classes) != set(self.classes_):
                raise ValueError(f"warm_start needs y with the same classes as the previous fit: had "
                                 f"{self.classes_}, y has {classes}.")
            new = np.setdiff1d(classes, self.classes_)
            if len(new):
                raise ValueError(f"y has classes {new} that are not in classes_ {self.classes_}; pass every "
                                 "class to the first partial_fit call with classes=.")
        return X, self._label_binarizer.transform(y).astype(X.dtype)

    def _stratify(self, Y):
        # Stratify single-label problems only, as scikit-learn does.
        return None if self._label_binarizer.y_type_.startswith("multilabel") else Y

    def _decode(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    def _score_validation(self, X_val, y_val) -> float:
        return float(accuracy_score(y_val, self._decode(self.net_.forward(X_val))))

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``; the first call needs ``classes`` (every label there will be)."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def decision_function(self, X):
        """The logits ``Z^L`` (the output layer before its sigmoid or softmax).

        Shape (n_samples,) for two classes (positive: ``classes_[1]``), else
        (n_samples, n_outputs).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        self._sync_weights()
        Z, _ = self.net_.forward(X, return_all=True)
        return Z[-1].ravel() if Z[-1].shape[1] == 1 else Z[-1]

    def predict_proba(self, X):
        """Class probabilities of shape (n_samples, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        P = self._forward(X)
        if P.shape[1] == 1 and not self._label_binarizer.y_type_.startswith("multilabel"):
            return np.hstack([1 - P, P])
        return P

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted labels of shape (n_samples,) (multilabel: (n_samples, n_labels))."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        P = self._forward(X)
        return self._label_binarizer.inverse_transform(P.ravel() if P.shape[1] == 1 else P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
