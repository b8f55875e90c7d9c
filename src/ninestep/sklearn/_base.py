"""The estimators' shared machinery: parameters, weights, and the epoch loop over ninestep.training.fit."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import _check_sample_weight
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ninestep.sklearn needs scikit-learn; install it with: pip install ninestep[sklearn]"
    ) from exc

from .. import training
from ..layers import INITIALIZERS
from ..network import Network
from ..optimizers import get_optimizer

__all__ = ["_BaseMLP"]

# scikit-learn's activation names -> ninestep's (ninestep's own names work too).
_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                "linear": "linear", "sigmoid": "sigmoid", "leaky_relu": "leaky_relu"}
# ninestep's output activation -> the name scikit-learn reports in out_activation_.
_SKLEARN_OUT_NAME = {"linear": "identity", "sigmoid": "logistic", "softmax": "softmax"}


def _generator(random_state) -> np.random.Generator:
    """A NumPy Generator from scikit-learn's ``random_state`` (None, int or RandomState).

    An int seeds the Generator directly, so ``random_state=s`` gives the same
    initial weights as ``ninestep.Network(..., seed=s)``.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    if random_state is None:
        return np.random.default_rng()
    # A RandomState (or anything check_random_state accepts): draw a seed from it,
    # which advances it, as scikit-learn's own estimators do.
    return np.random.default_rng(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class _BaseMLP(BaseEstimator):
    """Shared parameters, checks and the epoch loop of the two estimators."""

    # Filled in by the subclasses.
    _loss: str
    _output_activation: str

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate="constant", learning_rate_init=1e-3, power_t=0.5,
                 max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, init="glorot_uniform",
                 bias_init="zeros"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.init = init
        self.bias_init = bias_init

    # ------------------------------------------------------------------ checks
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise ValueError(
                f"hidden_layer_sizes must be a tuple of positive ints such as (100,), got {sizes!r}."
            ) from None
        for i, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
                raise ValueError(
                    f"hidden_layer_sizes[{i}] must be a positive int, got {n!r} in {self.hidden_layer_sizes!r}."
                )
        return [int(n) for n in sizes]

    def _check_params(self) -> None:
        def number(name, low, high, *, low_open=False, high_open=False):
            value = getattr(self, name)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
            if ok:
                ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
            if not ok:
                interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
                raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")

        def integer(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")

        self._hidden_sizes()
        if not isinstance(self.activation, str) or self.activation.lower() not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(map(repr, _ACTIVATIONS))}; "
                             f"got {self.activation!r}.")
        if self.solver not in ("adam", "sgd"):
            hint = " ('lbfgs' is not offered by ninestep)" if self.solver == "lbfgs" else ""
            raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}{hint}.")
        number("alpha", 0, np.inf)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            integer("batch_size")
        if self.learning_rate not in ("constant", "invscaling", "adaptive"):
            raise ValueError("learning_rate must be 'constant', 'invscaling' or 'adaptive', "
                             f"got {self.learning_rate!r}.")
        number("learning_rate_init", 0, np.inf, low_open=True)
        number("power_t", 0, np.inf)
        integer("max_iter")
        number("tol", 0, np.inf)
        number("momentum", 0, 1, high_open=True)
        number("validation_fraction", 0, 1, low_open=True, high_open=True)
        number("beta_1", 0, 1, high_open=True)
        number("beta_2", 0, 1, high_open=True)
        number("epsilon", 0, np.inf, low_open=True)
        integer("n_iter_no_change")
        if self.init is not None and self.init not in INITIALIZERS:
            raise ValueError(f"init must be None or one of {', '.join(map(repr, sorted(INITIALIZERS)))}; "
                             f"got {self.init!r}.")
        if self.bias_init not in ("zeros", "same"):
            raise ValueError(f"bias_init must be 'zeros' or 'same', got {self.bias_init!r}.")

    def _make_optimizer(self):
        """scikit-learn's solver parameters, in ninestep's names."""
        if self.solver == "sgd":
            # Nesterov with zero momentum is plain SGD; ninestep.SGD refuses the combination.
            return get_optimizer("sgd", lr=self.learning_rate_init, momentum=self.momentum,
                                 nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
        return get_optimizer("adam", lr=self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2,
                             eps=self.epsilon)

    # ------------------------------------------------------------------ weights
    def _bind_weights(self) -> None:
        """Point ``coefs_`` and ``intercepts_`` at the network's weights (views, no copies)."""
        self.coefs_ = [layer.W for layer in self.net_.layers]
        self.intercepts_ = [layer.b for layer in self.net_.layers]

    def _sync_weights(self) -> None:
        """Copy ``coefs_``/``intercepts_`` into the network if a user replaced the arrays."""
        for layer, W, b in zip(self.net_.layers, self.coefs_, self.intercepts_):
            if W is not layer.W:
                layer.W = W
            if b is not layer.b:
                layer.b = b

    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is not None:
            # Pickling copies each layer's W and b on its own; point them back into
            # the flat parameter vector that the optimiser updates. The copies make
            # arrays that were loaded read-only (memory-mapped) trainable again.
            net.params = np.array(net.params)
            if self.__dict__.get("_optimizer") is not None:
                self._optimizer.load_state_dict(self._optimizer.state_dict())
            for layer, (W, b) in zip(net.layers, net.unflatten(net.params)):
                layer.bind(W, b)
            self._bind_weights()

    def _forward(self, X: np.ndarray) -> np.ndarray:
        self._sync_weights()
        return self.net_.forward(X)

    # ------------------------------------------------------------------ training
    def _initialize(self, n_features: int, n_outputs: int, dtype, rng: np.random.Generator) -> None:
        self.net_ = Network([n_features, *self._hidden_sizes(), n_outputs],
                            activation=_ACTIVATIONS[self.activation.lower()],
                            output_activation=self._output_activation, init=self.init,
                            bias_init=self.bias_init, seed=rng, dtype=dtype)
        self._bind_weights()
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(self.net_.layers) + 1
        self.out_activation_ = _SKLEARN_OUT_NAME[self._output_activation]
        self.loss_curve_ = []
        self.t_ = 0
        self.best_loss_ = np.inf
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        self._optimizer = None

    def _fit(self, X, y, *, incremental: bool, sample_weight=None):
        self._check_params()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True; use fit instead.")
        first = not hasattr(self, "net_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental=incremental, reset=first)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        rng = self._rng = _generator(self.random_state) if first or not hasattr(self, "_rng") else self._rng
        if first:
            self._initialize(X.shape[1], Y.shape[1], X.dtype, rng)
        else:
            self._sync_weights()
            self._bind_weights()
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {Y.shape[1]} outputs but the model was fitted with {self.n_outputs_}; "
                                 "call fit (not partial_fit / warm_start) to start again.")
        X = X.astype(self.net_.dtype, copy=False)
        Y = Y.astype(self.net_.dtype, copy=False)
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()

        X_val = y_val = None
        if self.early_stopping:
            if not hasattr(self, "validation_scores_"):  # warm start of a model fitted without it
                self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            stratify = self._stratify(Y)
            parts = train_test_split(
                X, Y, *(() if sample_weight is None else (sample_weight,)), test_size=self.validation_fraction,
                stratify=stratify, random_state=int(rng.integers(np.iinfo(np.int32).max)))
            X, X_val, Y, Y_val = parts[:4]
            if sample_weight is not None:  # the validation score stays unweighted, as scikit-learn's
                sample_weight = parts[4]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small (fewer than 2 rows); increase "
                                 "validation_fraction or use more data.")
            y_val = self._decode(Y_val)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn(f"batch_size={self.batch_size} is larger than the {n} training samples; "
                              f"using {n}.", UserWarning, stacklevel=3)
            batch_size = min(self.batch_size, n)

        self.n_iter_ = 0
        best_params = None

        def after_epoch(epoch: int, logs: dict) -> bool:
            nonlocal best_params
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = logs["loss"]
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            # scikit-learn's rule: count epochs that do not beat the best by more than tol.
            if self.early_stopping:
                score = self._score_validation(X_val, y_val)
                self.validation_scores_.append(score)
                self._no_improvement_count = (self._no_improvement_count + 1
                                              if score < self.best_validation_score_ + self.tol else 0)
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_params = self.net_.params.copy()
            else:
                self._no_improvement_count = (self._no_improvement_count + 1
                                              if self.loss_ > self.best_loss_ - self.tol else 0)
                self.best_loss_ = min(self.best_loss_, self.loss_)
            schedule = self.learning_rate if self.solver == "sgd" else "constant"
            if schedule == "invscaling":
                # scikit-learn's rate after t_ samples; used from the next epoch on.
                self._optimizer.lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if self.early_stopping else "Training loss"
                message = f"{what} did not improve more than tol={self.tol} for {self.n_iter_no_change} consecutive epochs."
                if schedule == "adaptive" and self._optimizer.lr > 1e-6:
                    # scikit-learn's "adaptive": divide the rate by 5 and carry on, until it is tiny.
                    self._optimizer.lr /= 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"{message} Setting learning rate to {self._optimizer.lr:f}")
                    return False
                if self.verbose:
                    print(f"{message} Stopping.")
                return True
            return False

        with warnings.catch_warnings():
            # The stopping rule and its warning are scikit-learn's here, not ninestep's.
            warnings.simplefilter("ignore", training.ConvergenceWarning)
            training.fit(self.net_, X, Y, loss=self._loss, optimizer=self._optimizer, sample_weight=sample_weight,
                         epochs=1 if incremental else self.max_iter, batch_size=batch_size,
                         shuffle=bool(self.shuffle), seed=rng, alpha=float(self.alpha), callback=after_epoch)
        if self.early_stopping and best_params is not None:
            self.net_.params[...] = best_params
        if not incremental and self.n_iter_ == self.max_iter and self._no_improvement_count <= self.n_iter_no_change:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet; raise max_iter.", ConvergenceWarning, stacklevel=3)
        return self

    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` of shape (n_samples, n_features) and ``y``; returns ``self``.

        Runs up to ``max_iter`` epochs of ``solver`` in mini-batches of
        ``batch_size`` (``"auto"``: ``min(200, n_samples)``), stopping when the
        training loss (or, with ``early_stopping``, the validation score) has
        not improved by ``tol`` for ``n_iter_no_change`` epochs.
        ``sample_weight`` weights each row's loss (and the L2 term's ``n``
        becomes the weights' sum), as scikit-learn's MLP does.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


