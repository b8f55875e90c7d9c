"""CSV reading: every fault of issue 6 gives a clear error or is handled."""

import tracemalloc

import numpy as np
import pytest

from ninestep.tabular import CSVError, infer_task, parse_columns, read_csv


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_features_and_numeric_target(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,3\n4,5,9\n-1.5,2e3,0\n")
    t = read_csv(path, target="y")
    assert t.feature_names == ["a", "b"] and t.target_names == ["y"] and t.columns == ["a", "b", "y"]
    np.testing.assert_array_equal(t.X, [[1, 2], [4, 5], [-1.5, 2000]])
    np.testing.assert_array_equal(t.y, [3, 9, 0])
    assert t.X.dtype == np.float64 and t.y.dtype == np.float64


def test_features_pick_columns_and_several_targets(tmp_path):
    path = write(tmp_path, "a,b,c,y1,y2\n1,2,3,4,5\n6,7,8,9,10\n")
    t = read_csv(path, target="y1, y2", features=["c", "a"])
    np.testing.assert_array_equal(t.X, [[3, 1], [8, 6]])
    assert t.y.shape == (2, 2)
    np.testing.assert_array_equal(t.y[:, 1], [5, 10])


def test_no_target_reads_every_column(tmp_path):
    t = read_csv(write(tmp_path, "a,b\n1,2\n"))
    assert t.y is None and t.X.shape == (1, 2)


def test_string_target_becomes_labels(tmp_path):
    path = write(tmp_path, "x,kind\n1,cat\n2,dog\n3,cat\n")
    t = read_csv(path, target="kind")
    assert t.y.dtype == object and t.y.tolist() == ["cat", "dog", "cat"]
    assert infer_task(t.y) == "classification"


def test_text_label_found_late_switches_whole_column_to_labels(tmp_path):
    # The first rows look numeric; the column must still come back as text, not half numbers.
    path = write(tmp_path, "x,grade\n1,1\n2,2\n3,A\n")
    t = read_csv(path, target="grade")
    assert t.y.tolist() == ["1", "2", "A"]


def test_label_targets_keeps_numeric_looking_labels_as_text(tmp_path):
    t = read_csv(write(tmp_path, "x,c\n1,10\n2,20\n"), target="c", label_targets=["c"])
    assert t.y.tolist() == ["10", "20"]


def test_utf8_bom_is_dropped(tmp_path):
    path = write(tmp_path, "\ufeffa,y\n1,2\n")
    t = read_csv(path, target="y")
    assert t.feature_names == ["a"]  # not "\ufeffa"


def test_quoted_fields_with_commas_and_newlines(tmp_path):
    path = write(tmp_path, 'a,"b, quoted",label\n1,"2",x\n"3",4,"New York, NY"\n5,6,"two\nlines"\n')
    t = read_csv(path, target="label")
    assert t.feature_names == ["a", "b, quoted"]
    np.testing.assert_array_equal(t.X, [[1, 2], [3, 4], [5, 6]])
    assert t.y.tolist() == ["x", "New York, NY", "two\nlines"]


def test_blank_lines_are_skipped(tmp_path):
    t = read_csv(write(tmp_path, "\na,y\n1,2\n\n3,4\n\n"), target="y")
    np.testing.assert_array_equal(t.X[:, 0], [1, 3])


def test_whitespace_around_names_and_numbers(tmp_path):
    t = read_csv(write(tmp_path, " a , y \n 1 , 2 \n"), target="y")
    assert t.feature_names == ["a"] and t.X[0, 0] == 1 and t.y[0] == 2


@pytest.mark.parametrize("text, match", [
    ("", r"is empty"),
    ("\n\n", r"is empty"),
    ("a,b,y\n", r"header \(a, b, y\) but no data rows"),
    ("a,b,y\n1,2,3\n4,5\n", r"line 3: 2 fields, but the header has 3"),
    ("a,b,y\n1,2,3\n4,5,6,7\n", r"line 3: 4 fields"),
    ("a,a,y\n1,2,3\n", r"names column 'a' twice"),
    ("a,,y\n1,2,3\n", r"empty column name"),
])
def test_malformed_files_give_clear_errors(tmp_path, text, match):
    with pytest.raises(CSVError, match=match):
        read_csv(write(tmp_path, text), target="y")


def test_missing_target_lists_existing_columns(tmp_path):
    path = write(tmp_path, "height,weight\n1,2\n")
    with pytest.raises(CSVError, match=r"target column 'price' not found; the file has columns height, weight"):
        read_csv(path, target="price")


def test_missing_feature_column_is_named(tmp_path):
    with pytest.raises(CSVError, match=r"feature column 'z' not found"):
        read_csv(write(tmp_path, "a,y\n1,2\n"), target="y", features="a,z")


def test_column_both_feature_and_target_is_refused(tmp_path):
    with pytest.raises(CSVError, match="both feature and target"):
        read_csv(write(tmp_path, "a,y\n1,2\n"), target="y", features="a,y")


def test_non_numeric_feature_names_column_line_and_value(tmp_path):
    path = write(tmp_path, "a,city,y\n1,2,3\n4,Paris,6\n")
    with pytest.raises(CSVError, match=r"line 3, column 'city': 'Paris' is not a number"):
        read_csv(path, target="y")


def test_empty_cell_is_named(tmp_path):
    with pytest.raises(CSVError, match=r"line 2, column 'b': the cell is empty"):
        read_csv(write(tmp_path, "a,b,y\n1,,3\n"), target="y")


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity"])
def test_nan_and_inf_are_refused_with_place(tmp_path, cell):
    with pytest.raises(CSVError, match=rf"line 3, column 'a': '{cell}' is not a finite number"):
        read_csv(write(tmp_path, f"a,y\n1,2\n{cell},3\n"), target="y")


def test_nan_in_target_is_an_error_not_a_label(tmp_path):
    with pytest.raises(CSVError, match="not a finite number"):
        read_csv(write(tmp_path, "a,y\n1,2\n2,nan\n"), target="y")


def test_text_in_one_of_several_targets_is_an_error(tmp_path):
    with pytest.raises(CSVError, match=r"column 'y2': 'x' is not a number"):
        read_csv(write(tmp_path, "a,y1,y2\n1,2,x\n"), target="y1,y2")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="it is a folder"):
        read_csv(tmp_path)


def test_not_utf8_is_reported(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("caf\xe9,y\n1,2\n".encode("latin-1"))
    with pytest.raises(CSVError, match="not UTF-8"):
        read_csv(path, target="y")


def test_parse_columns():
    assert parse_columns(" a, b ") == ["a", "b"]
    assert parse_columns(None) is None
    with pytest.raises(CSVError, match="empty name"):
        parse_columns("a,,b")


@pytest.mark.parametrize("y, task", [
    (np.array(["a", "b"], dtype=object), "classification"),
    (np.array([0.0, 1, 2, 1, 0, 2]), "classification"),
    (np.array([0.5, 1.5, 2.0, 3.0]), "regression"),
    (np.arange(100.0), "regression"),              # whole numbers, but far too many values
    (np.array([[0.0, 1], [1, 0]]), "regression"),  # several targets
])
def test_infer_task(y, task):
    assert infer_task(y) == task


def test_large_file_loads_without_threefold_memory(tmp_path):
    n, p = 10_000, 8
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, p + 1))
    path = tmp_path / "big.csv"
    header = ",".join(f"c{j}" for j in range(p)) + ",y\n"
    path.write_text(header + "\n".join(",".join(f"{v:.6g}" for v in row) for row in data) + "\n")
    tracemalloc.start()
    try:
        t = read_csv(path, target="y")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    final = t.X.nbytes + t.y.nbytes
    np.testing.assert_allclose(t.X, data[:, :p], rtol=1e-5)
    # Column buffers plus the final matrix: about 2x at the very worst; a list of lists
    # of strings would be well over 10x.
    assert peak < 2.5 * final, (peak, final)


def test_read_header(tmp_path):
    from ninestep.tabular import read_header

    assert read_header(write(tmp_path, "\ufeff\n a ,b\n1,2\n")) == ["a", "b"]
    with pytest.raises(CSVError, match="is empty"):
        read_header(write(tmp_path, "", name="empty.csv"))
