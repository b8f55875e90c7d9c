"""TablePreprocessor and predict_table: text, gaps, yes/no, robust targets, storage."""

import json
import warnings

import numpy as np
import pytest

import ninestep as ns
from ninestep.preprocessing import DataError, DataWarning, TablePreprocessor, predict_table
from ninestep.tabular import RawTable, read_table, write_table


def table(**columns) -> RawTable:
    return RawTable.from_columns(columns, source="t")


def csv(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_table(path)


# ---------------------------------------------------------------------- missing values (item 1)
@pytest.mark.parametrize("token", ["", "NA", "n/a", "NaN", "null", "None", "?", "-", " NA "])
def test_missing_tokens_are_imputed_with_the_training_median(token):
    pre = TablePreprocessor()
    X, y = pre.fit_transform(table(a=["1", token, "3", "10"]))
    assert y is None
    assert pre.columns_[0]["fill"] == 3.0 and pre.columns_[0]["indicator"]
    assert pre.get_feature_names_out() == ["a", "a_missing"]
    raw = X[:, 0] * pre.scaler_.scale_[0] + pre.scaler_.mean_[0]
    np.testing.assert_allclose(raw, [1, 3, 3, 10])
    np.testing.assert_array_equal(X[:, 1], [0, 1, 0, 0])
    assert any("imputed 1 cell in 'a' with the median 3; added a_missing" in r for r in pre.report_)


def test_custom_na_values():
    pre = TablePreprocessor(na_values=["missing"])
    X, _ = pre.fit_transform(table(a=["1", "missing", "3"], b=["x", "NA", "x"]))
    # "NA" is now an ordinary category of b, and "missing" the only gap marker.
    assert pre.get_feature_names_out() == ["a", "a_missing", "b=NA", "b=x"]


def test_imputation_uses_training_rows_only():
    pre = TablePreprocessor().fit(table(a=["1", "2", "", "3"]))
    assert pre.columns_[0]["fill"] == 2.0
    X = pre.transform(table(a=["100", ""]))  # the new rows do not move the median
    raw = X[:, 0] * pre.scaler_.scale_[0] + pre.scaler_.mean_[0]
    np.testing.assert_allclose(raw, [100, 2])
    np.testing.assert_array_equal(X[:, 1], [0, 1])


def test_gap_at_predict_time_in_a_column_without_gaps_warns():
    pre = TablePreprocessor().fit(table(a=["1", "2", "4"]))
    with pytest.warns(DataWarning, match=r"column 'a': 1 missing or unreadable cell\(s\) \(row 1 'NA'\) filled with "
                                         r"the training value 2"):
        X = pre.transform(table(a=["1", "NA"]))
    assert X.shape == (2, 1)


def test_text_gap_takes_most_frequent_value():
    pre = TablePreprocessor()
    X, _ = pre.fit_transform(table(c=["Lyon", "Paris", "Paris", "NA"]))
    assert pre.get_feature_names_out() == ["c=Lyon", "c=Paris", "c_missing"]
    np.testing.assert_array_equal(X, [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 1]])


def test_missing_drop_drops_rows_and_error_refuses():
    data = table(a=["1", "", "3", "4"], y=["1.5", "2.5", "3.5", "4.5"])
    pre = TablePreprocessor("y", missing="drop")
    X, y = pre.fit_transform(data)
    assert X.shape == (3, 1) and pre.get_feature_names_out() == ["a"]
    np.testing.assert_allclose(pre.inverse_transform_target(y), [1.5, 3.5, 4.5])
    assert "dropped 1 row with a gap in a feature (missing='drop')" in pre.report_
    with pytest.raises(DataError, match=r"column 'a' has 1 missing or bad cell\(s\) \(row 1 ''\) and missing='error'"):
        TablePreprocessor("y", missing="error").fit(data)


def test_missing_target_rows_are_dropped_with_a_count_and_never_change_the_task():
    # 300 distinct prices and one NA: still regression, one row dropped.
    prices = [str(100_000 + 17 * i) for i in range(300)]
    prices[42] = "NA"
    pre = TablePreprocessor("price")
    X, y = pre.fit_transform(table(area=[str(i) for i in range(300)], price=prices))
    assert pre.task_ == "regression" and X.shape == (299, 1) and y.shape == (299,)
    assert "dropped 1 row with a missing target 'price'" in pre.report_
    with pytest.raises(DataError, match=r"1 row\(s\) with a missing target 'price' \(row 42 'NA'\); fix them"):
        TablePreprocessor("price", missing="error").fit(table(area=["1"] * 300, price=prices))


# ---------------------------------------------------------------------- text features (item 3)
def test_one_hot_with_categories_from_training_and_unseen_warning():
    pre = TablePreprocessor().fit(table(city=["Paris", "Lyon", "Paris", "Nice"]))
    assert pre.get_feature_names_out() == ["city=Lyon", "city=Nice", "city=Paris"]
    assert "one-hot 'city' -> 3 columns (Lyon, Nice, Paris)" in pre.report_
    with pytest.warns(DataWarning, match=r"column 'city' has 1 cell\(s\) with categories never seen in training "
                                         r"\('Berlin', e.g. row 1\); they are encoded as all zeros"):
        X = pre.transform(table(city=["Nice", "Berlin"]))
    np.testing.assert_array_equal(X, [[0, 1, 0], [0, 0, 0]])


def test_too_many_levels_and_id_columns_are_refused():
    with pytest.raises(DataError, match=r"column 'code' has 60 different values in 120 rows .*more than "
                                        r"max_levels=50 categories.*--drop code"):
        TablePreprocessor().fit(table(code=[f"c{i % 60}" for i in range(120)]))
    with pytest.raises(DataError, match=r"column 'id' has 30 different values in 30 rows .*looks like an ID or free "
                                        r"text.*--drop id \(or choose columns with --features\)"):
        TablePreprocessor().fit(table(id=[f"A{i}" for i in range(30)], x=[str(i) for i in range(30)]))
    # drop= leaves it out.
    pre = TablePreprocessor(drop=["id"]).fit(table(id=[f"A{i}" for i in range(30)], x=[str(i) for i in range(30)]))
    assert pre.get_feature_names_out() == ["x"]


@pytest.mark.parametrize("words", [["yes", "no", "Yes", "NO"], ["true", "False", "TRUE", "false"]])
def test_boolean_words_become_0_1(words):
    pre = TablePreprocessor()
    X, _ = pre.fit_transform(table(b=words))
    np.testing.assert_array_equal(X[:, 0], [1, 0, 1, 0])  # not standardised
    assert pre.columns_[0]["kind"] == "bool"


@pytest.mark.parametrize("dates", [["2014-05-02", "2015-01-30"], ["02/05/2014", "30/01/2015"],
                                   ["2014-05-02T10:00:00", "2014-05-03 11:30"]])
def test_dates_get_a_clear_error(dates):
    with pytest.raises(DataError, match=r"column 'sold' holds dates such as .*Turn them into numbers.*year.*--drop sold"):
        TablePreprocessor().fit(table(sold=dates * 3))


def test_underscore_numbers_are_text_not_numbers():
    pre = TablePreprocessor().fit(table(a=["1_000", "2_000", "1_000"]))
    assert pre.columns_[0]["kind"] == "category"


def test_a_few_bad_cells_in_a_number_column_are_reported_and_imputed():
    cells = [str(i) for i in range(40)]
    cells[7] = "1O"
    pre = TablePreprocessor().fit(table(a=cells))
    assert pre.columns_[0]["kind"] == "number"
    assert "column 'a': 1 cell(s) that are not numbers (row 7 '1O') treated as missing" in pre.report_


def test_integer_columns_are_recognised():
    pre = TablePreprocessor().fit(table(year=["2014", "1999", "2020"], x=["1.5", "2", "3"]))
    assert [c["integer"] for c in pre.columns_] == [True, False]
    assert pre.describe()[0].startswith("year: number, range [1999, 2020]")


# ---------------------------------------------------------------------- task inference (item 4)
def test_one_typo_in_a_numeric_target_is_a_bad_cell_not_a_class():
    prices = [str(100 + 3 * i) for i in range(200)]
    prices[10] = "1O"
    data = table(x=[str(i) for i in range(200)], price=prices)
    pre = TablePreprocessor("price")
    X, y = pre.fit_transform(data)
    assert pre.task_ == "regression" and len(y) == 199
    assert any("target 'price' is numbers apart from 1 cell(s): row 10 '1O'" in r for r in pre.report_)
    with pytest.raises(DataError, match=r"target 'price' is numbers apart from 1 cell\(s\): row 10 '1O'; fix them"):
        TablePreprocessor("price", missing="error").fit(data)


def test_text_target_is_classification_with_sorted_classes():
    pre = TablePreprocessor("kind")
    _, y = pre.fit_transform(table(x=["1", "2", "3", "4"], kind=["dog", "cat", "dog", "cat"]))
    assert pre.task_ == "classification" and pre.classes_ == ["cat", "dog"]
    np.testing.assert_array_equal(y, [1, 0, 1, 0])
    assert list(pre.inverse_transform_target(np.array([[0.9, 0.1], [0.2, 0.8]]))) == ["cat", "dog"]


def test_whole_number_labels_stay_ints():
    pre = TablePreprocessor("c")
    pre.fit(table(x=[str(i) for i in range(12)], c=["0", "1", "2.0"] * 4))
    assert pre.task_ == "classification" and pre.classes_ == [0, 1, 2]


def test_too_many_classes_for_the_rows_is_refused_with_evidence():
    names = [f"street {i}" for i in range(40)]
    with pytest.raises(DataError, match=r"target 'addr' has 40 different labels in 40 rows \(e.g. 'street 0'.*at most 10\).*"
                                        r"--task regression.*--task classification"):
        TablePreprocessor("addr").fit(table(x=[str(i) for i in range(40)], addr=names))
    pre = TablePreprocessor("addr", task="classification").fit(table(x=[str(i) for i in range(40)], addr=names))
    assert len(pre.classes_) == 40  # the user asked for it


def test_text_target_with_task_regression_is_refused():
    with pytest.raises(DataError, match="holds text labels such as 'cat'; that is a classification target"):
        TablePreprocessor("k", task="regression").fit(table(x=["1", "2", "3", "4"], k=["cat", "dog", "cat", "dog"]))


def test_classes_fixed_by_the_first_clean_survive_a_subset():
    data = table(x=[str(i) for i in range(20)], k=["a", "b", "c", "d"] * 5)
    pre = TablePreprocessor("k")
    full, y = pre.clean(data)
    pre.fit(full.take(np.flatnonzero(y < 2)))  # training rows hold only a and b
    assert pre.classes_ == ["a", "b", "c", "d"]


# ---------------------------------------------------------------------- the object (item 5)
def test_columns_matched_by_name_in_any_order_and_extra_columns_ignored():
    pre = TablePreprocessor("y").fit(table(a=["1", "2", "3"], c=["x", "y", "x"], y=["1", "2", "3.5"]))
    X1 = pre.transform(table(a=["2", "3"], c=["y", "x"]))
    X2 = pre.transform(table(extra=["?", "?"], c=["y", "x"], a=["2", "3"]))
    np.testing.assert_array_equal(X1, X2)
    with pytest.raises(DataError, match=r"feature column 'c' not found; the table has columns a"):
        pre.transform(table(a=["1"]))


def test_only_number_columns_are_standardised_with_the_library_scaler():
    pre = TablePreprocessor()
    X, _ = pre.fit_transform(table(a=["1", "2", "3", "6"], c=["x", "y", "x", "x"], b=["yes", "no", "no", "no"]))
    assert isinstance(pre.scaler_, ns.StandardScaler)
    np.testing.assert_allclose(X[:, 0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(X[:, 0].std(), 1)
    assert set(np.unique(X[:, 1:])) <= {0.0, 1.0}


def test_to_arrays_round_trip_is_json_and_float_only():
    data = table(a=["1", "", "3", "4.5"], c=["x", "y", "NA", "x"], b=["yes", "no", "yes", "?"],
                 y=["10", "20", "30", "40.5"])
    pre = TablePreprocessor("y")
    X, _ = pre.fit_transform(data)
    meta, arrays = pre.to_arrays()
    meta = json.loads(json.dumps(meta))  # plain JSON
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in arrays.values())
    back = TablePreprocessor.from_arrays(meta, arrays)
    np.testing.assert_array_equal(back.transform(data), X)
    assert back.get_feature_names_out() == pre.get_feature_names_out()
    np.testing.assert_allclose(back.inverse_transform_target(np.array([[0.0]])), [pre.target_scaler_.mean_[0]])
    assert back.describe() == pre.describe()
    with pytest.raises(ValueError, match="incomplete or malformed"):
        TablePreprocessor.from_arrays({k: v for k, v in meta.items() if k != "columns"}, arrays)
    with pytest.raises(ValueError, match="unknown preprocessor format"):
        TablePreprocessor.from_arrays({**meta, "format": 99}, arrays)


def test_bad_arguments_and_unfitted_use():
    with pytest.raises(ValueError, match="missing must be one of impute, drop, error, got 'fill'"):
        TablePreprocessor(missing="fill")
    with pytest.raises(ValueError, match="task must be"):
        TablePreprocessor(task="ranking")
    with pytest.raises(RuntimeError, match="not fitted yet"):
        TablePreprocessor().transform(table(a=["1"]))
    with pytest.raises(DataError, match=r"column 'z' not found"):
        TablePreprocessor("z").fit(table(a=["1"]))


def test_dataframe_input():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, None, 3.0], "c": ["x", "y", None], "y": [1, 2, 3]})
    pre = TablePreprocessor("y", task="regression")
    X, y = pre.fit_transform(df)
    assert pre.get_feature_names_out() == ["a", "a_missing", "c=x", "c=y", "c_missing"]


# ---------------------------------------------------------------------- predict output (item 6)
class Fixed:
    """A stand-in network whose outputs are given."""

    def __init__(self, outputs):
        self.outputs = np.asarray(outputs, dtype=float)

    def forward(self, X):
        return self.outputs[:len(X)]


def test_predict_table_keeps_columns_as_written_and_adds_predictions():
    pre = TablePreprocessor("price").fit(table(year=["2014", "2010", "2012"], price=["100", "200", "300"]))
    new = table(id=["a7", "b9"], year=["2014", "2011"], price=["150", "?"])
    out = predict_table(pre, Fixed([[0.0], [1.0]]), new)
    assert out.columns == ["id", "year", "price", "price_pred"]
    assert out.cells["year"] == ["2014", "2011"] and out.cells["price"] == ["150", "?"]  # true target kept
    mean, scale = pre.target_scaler_.mean_[0], pre.target_scaler_.scale_[0]
    np.testing.assert_allclose([float(v) for v in out.cells["price_pred"]], [mean, mean + scale], rtol=1e-7)


def test_predict_table_classification_has_class_and_one_probability_per_class():
    pre = TablePreprocessor("k").fit(table(x=[str(i) for i in range(10)], k=["cat", "dog"] * 5))
    out = predict_table(pre, Fixed([[0.25, 0.75], [0.9, 0.1]]), table(x=["1", "2"]))
    assert out.columns == ["x", "k_pred", "k_proba_cat", "k_proba_dog"]
    assert out.cells["k_pred"] == ["dog", "cat"] and out.cells["k_proba_dog"] == ["0.75", "0.1"]


def test_predict_table_warns_per_feature_outside_the_training_range():
    pre = TablePreprocessor("y").fit(table(a=["1", "5"], b=["0", "1"], y=["1", "2"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predict_table(pre, Fixed([[0.0]] * 3), table(a=["9", "3", "-1"], b=["0.5", "1", "0"]))
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert messages == ["t: column 'a': 2 value(s) outside the training range [1, 5] (row 0 '9', row 2 '-1'); "
                        "predictions there are extrapolations."]


def test_predict_table_writes_the_input_dialect(tmp_path):
    raw = csv(tmp_path, "a;y\n1,5;2\n2,5;3\n3,5;4,5\n")
    pre = TablePreprocessor("y").fit(raw)
    out = predict_table(pre, Fixed([[0.0]] * 3), raw)
    write_table(out, tmp_path / "p.csv")
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "a;y;y_pred" and lines[1].startswith("1,5;2;3,1")


# ---------------------------------------------------------------------- end to end (item 7)
def _messy_csv(path, rng, n, with_target=True, shuffle_columns=False):
    cities = {"Paris": 2.0, "Lyon": 1.2, "Nice": 1.5}
    header = ["area", "city", "garden", "year"] + (["price"] if with_target else [])
    rows = []
    for i in range(n):
        city = list(cities)[i % 3]
        area, garden, year = rng.uniform(30, 150), rng.random() < 0.5, int(rng.integers(1960, 2020))
        price = 3000 * area * cities[city] + 30000 * garden + 500 * (year - 1960)
        cells = [f"{area:.1f}".replace(".", ","), city, "yes" if garden else "no", str(year), f"{price:.0f}"]
        if i % 17 == 3:
            cells[0] = "NA"  # gaps
        if i % 23 == 5:
            cells[2] = ""
        if with_target and i == 11:
            cells[4] = "?"  # a missing target
        rows.append(cells[:len(header)])
    order = list(range(len(header)))
    if shuffle_columns:
        order = order[::-1]
    with open(path, "w", encoding="utf-8-sig") as f:  # with a byte-order mark, as Excel writes
        f.write(";".join(header[j] for j in order) + "\n")
        f.writelines(";".join(r[j] for j in order) + "\n" for r in rows)


def test_messy_csv_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    _messy_csv(tmp_path / "houses.csv", rng, 240)
    raw = read_table(tmp_path / "houses.csv")
    assert (raw.delimiter, raw.decimal) == (";", ",")

    pre = TablePreprocessor("price")
    X, y = pre.fit_transform(raw)
    assert pre.task_ == "regression" and X.shape[0] == 239
    assert pre.get_feature_names_out() == ["area", "area_missing", "city=Lyon", "city=Nice", "city=Paris",
                                           "garden", "garden_missing", "year"]
    assert "dropped 1 row with a missing target 'price'" in pre.report_

    net = ns.Network([X.shape[1], 32, 1], seed=0)
    net.fit(X, y, loss="mse", optimizer=ns.Adam(lr=1e-2), epochs=300, batch_size=32, seed=0)

    meta, arrays = pre.to_arrays()
    back = TablePreprocessor.from_arrays(json.loads(json.dumps(meta)), arrays)

    # New raw rows, columns reversed and without the target: same preprocessing, sensible prices.
    _messy_csv(tmp_path / "new.csv", np.random.default_rng(1), 30, with_target=False, shuffle_columns=True)
    new = read_table(tmp_path / "new.csv")
    assert new.columns[0] == "year"
    out = predict_table(back, net, new)
    assert out.columns == ["year", "garden", "city", "area", "price_pred"]
    assert out.cells["year"] == new.cells["year"]  # integers as written
    pred = np.array([float(v.replace(",", ".")) for v in out.cells["price_pred"]])
    truth = []
    rng = np.random.default_rng(1)
    for i in range(30):
        city = ["Paris", "Lyon", "Nice"][i % 3]
        area, garden, year = rng.uniform(30, 150), rng.random() < 0.5, int(rng.integers(1960, 2020))
        truth.append(3000 * area * {"Paris": 2.0, "Lyon": 1.2, "Nice": 1.5}[city] + 30000 * garden
                     + 500 * (year - 1960))
    truth = np.array(truth)
    ok = np.array([new.cells["area"][i] != "NA" for i in range(30)])  # imputed areas cannot be right
    r2 = 1 - ((truth[ok] - pred[ok]) ** 2).sum() / ((truth[ok] - truth[ok].mean()) ** 2).sum()
    assert r2 > 0.9, r2


def test_a_typo_in_whole_number_class_labels_is_dropped_not_a_class():
    labels = ["0", "1"] * 30
    labels[5] = "O"
    pre = TablePreprocessor("c")
    _, y = pre.fit_transform(table(x=[str(i) for i in range(60)], c=labels))
    assert pre.task_ == "classification" and pre.classes_ == [0, 1] and len(y) == 59
    assert "dropped 1 row whose target 'c' is numbers apart from 1 cell(s): row 5 'O'" in pre.report_


def test_text_classes_that_look_like_numbers_in_new_data():
    pre = TablePreprocessor("c").fit(table(x=[str(i) for i in range(12)], c=["1", "2", "A"] * 4))
    assert pre.classes_ == ["1", "2", "A"]
    _, y = pre.clean(table(x=["1", "2"], c=["2", "1"]))  # all numbers here, but the classes are text
    np.testing.assert_array_equal(y, [1, 0])


def test_fit_transform_equals_fit_then_transform():
    data = table(a=["1", "", "3", "x7", "4"] * 8, c=["p", "q", "", "p", "r"] * 8, b=["yes", "no", "?", "no", "yes"] * 8,
                 y=[str(i) for i in range(40)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        X1, y1 = TablePreprocessor("y").fit_transform(data)
        pre = TablePreprocessor("y").fit(data)
        X2 = pre.transform(data)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, pre.transform_target(np.arange(40.0)))


def test_missing_error_also_refuses_gaps_at_predict_time():
    pre = TablePreprocessor(missing="error").fit(table(a=["1", "2", "3"]))
    with pytest.raises(DataError, match=r"column 'a' has missing or bad cells \(row 1 'NA'\) and missing='error'"):
        pre.transform(table(a=["1", "NA"]))
