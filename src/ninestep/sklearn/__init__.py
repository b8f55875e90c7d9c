"""scikit-learn estimators built on ninestep: :class:`MLPRegressor` and :class:`MLPClassifier`.

They take scikit-learn's parameter names wherever the concept is the same
(``hidden_layer_sizes``, ``activation``, ``solver``, ``alpha``,
``batch_size``, ``learning_rate_init``, ``max_iter``, ``tol``,
``n_iter_no_change``, ``early_stopping``, ...), expose the same fitted
attributes (``coefs_``, ``intercepts_``, ``loss_curve_``, ``n_iter_``,
``t_``, ``best_loss_``, ``classes_``, ``n_features_in_``) and follow the same
stopping rules, so they drop into ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``. Underneath, every epoch is :func:`ninestep.training.fit`
on a :class:`ninestep.Network`, kept as the fitted attribute ``net_``.

What differs from ``sklearn.neural_network`` (see ``docs/parity.md``):

* initial weights are Glorot-uniform (scikit-learn's distribution, for every
  activation) but the biases start at **zero** (scikit-learn draws them
  too); ``init`` and ``bias_init`` choose otherwise;
* a multi-output regressor minimises ``1/2`` the squared error **summed**
  over the outputs (scikit-learn averages over them: its gradients are
  ``n_outputs`` times smaller); for one output the losses are equal;
* Adam adds ``epsilon`` to the bias-corrected ``sqrt(v_hat)`` (PyTorch's
  form); scikit-learn adds it to the uncorrected ``sqrt(v)``;
* only the ``"sgd"`` and ``"adam"`` solvers (no ``"lbfgs"``) and no
  sparse input. ``sample_weight`` follows scikit-learn's convention.

This module imports scikit-learn (``pip install ninestep[sklearn]``); the
ninestep core never imports it.
"""

from ._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPRegressor", "MLPClassifier"]
