"""ninestep.diagnostics: dead units, linear pieces and the epoch at which units die."""

import numpy as np
import pytest

import ninestep as ns
from ninestep import article
from ninestep.diagnostics import DeadUnits, DeadUnitTracker, dead_units, linear_pieces


def small_net():
    """[2, 3, 2, 1]: layer 1 unit 0 has a huge negative bias, so it is dead on inputs of modest size."""
    net = ns.Network([2, 3, 2, 1], seed=0)
    net.layers[0].b[...] = [-100.0, 0.0, 0.0]
    return net


def test_dead_units_are_those_never_positive_on_any_row():
    net = small_net()
    X = np.random.default_rng(0).normal(size=(50, 2))
    dead = dead_units(net, X)
    Z, _ = net.forward(X, return_all=True)
    for l, idx in enumerate(dead.indices):
        np.testing.assert_array_equal(idx, np.flatnonzero((Z[l] <= 0).all(axis=0)))
    assert 0 in dead.indices[0]
    assert dead.sizes == (3, 2) and dead.total == 5
    assert dead.fractions == [len(dead.indices[0]) / 3, len(dead.indices[1]) / 2]
    assert dead.count == sum(len(i) for i in dead.indices)


def test_a_zero_pre_activation_counts_as_dead():
    net = ns.Network([2, 3, 1], seed=0)  # zero biases: on an all-zero row every Z is exactly 0
    dead = dead_units(net, np.zeros((4, 2)))
    assert dead.as_list() == [(1, 0), (1, 1), (1, 2)]
    assert str(dead) == "3 of 3 hidden units dead (layer 1: units 0, 1, 2 (3 of 3))"


def test_str_names_each_layer():
    dead = DeadUnits((np.array([2]), np.array([], dtype=int)), (4, 4))
    assert str(dead) == "1 of 8 hidden units dead (layer 1: unit 2 (1 of 4); layer 2: none of 4)"


def test_bad_input_is_the_networks_error():
    with pytest.raises(ValueError, match="X has 3 features but the network expects 2"):
        dead_units(small_net(), np.zeros((4, 3)))


def test_linear_pieces_counts_on_off_patterns():
    net = ns.Network([1, 2, 1], seed=0)
    net.set_weights([(np.array([[1.0, -1.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))])
    # |x| as relu(x) + relu(-x): two pieces on both sides of 0, one on one side only
    assert linear_pieces(net, np.array([[-2.0], [-1.0], [1.0], [3.0]])) == 2
    assert linear_pieces(net, np.array([[1.0], [3.0]])) == 1


@pytest.mark.filterwarnings("ignore::ninestep.ConvergenceWarning")  # 3 epochs are meant to be short
def test_tracker_dates_a_unit_killed_by_the_initial_draw_at_epoch_0():
    net = small_net()
    X = np.random.default_rng(1).normal(size=(40, 2))
    y = X.sum(axis=1, keepdims=True)
    tracker = DeadUnitTracker(net, X, every=1)
    net.fit(X, y, optimizer=ns.SGD(lr=0.01), epochs=3, batch_size=None, callback=tracker)
    assert tracker.since[(1, 0)] == 0
    assert tracker.killed_by((1, 0)) == "the initial draw"
    assert [epoch for epoch, _ in tracker.checks] == [0, 1, 2, 3]


def test_tracker_dates_the_articles_first_dead_unit_to_its_step():
    # Measured with the notebook's own loop: unit 0 of layer 2 is alive at epoch 325 and dead from 326 on.
    run = article.setup(42)
    tracker = DeadUnitTracker(run.net, run.X_train, every=1)
    article.train(run, epochs=330, callback=tracker)
    assert tracker.since == {(2, 0): 326}
    assert tracker.killed_by((2, 0)) == "a step (dead since epoch 326)"


def test_tracker_is_a_keras_style_callback_too():
    run = article.setup(42)
    tracker = DeadUnitTracker(run.net, run.X_train, every=5)
    article.train(run, epochs=330, callbacks=[tracker])
    assert isinstance(tracker, ns.Callback) and tracker.trainer is not None
    assert tracker.since == {(2, 0): 330}


def test_a_unit_that_revives_starts_its_dead_spell_over():
    net = small_net()
    X = np.ones((3, 2))
    tracker = DeadUnitTracker(net, X, every=2)  # dead at 0
    net.layers[0].b[0] = 100.0
    tracker.on_epoch_end(1)  # 2 epochs done: alive
    net.layers[0].b[0] = -100.0
    tracker.on_epoch_end(2)  # 3 epochs done: not a check epoch
    tracker.on_epoch_end(3)  # 4 epochs done: dead again
    assert tracker.since[(1, 0)] == 4
    assert tracker.killed_by((1, 0)) == "a step (alive at epoch 2, dead from epoch 4 on)"
    assert [epoch for epoch, _ in tracker.checks] == [0, 2, 4]


def test_tracker_checks_its_argument():
    with pytest.raises(ValueError, match="every must be a positive int .* got 0"):
        DeadUnitTracker(small_net(), np.ones((2, 2)), every=0)
