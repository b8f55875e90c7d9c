"""CSV reading: every fault a real table has gives a clear error or is handled."""

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


# ---------------------------------------------------------------------- dialects
import gzip  # noqa: E402

from ninestep.tabular import RawTable, parse_number, read_header, read_table, sniff_delimiter, write_table  # noqa: E402


@pytest.mark.parametrize("sample, delimiter", [
    ("a,b,y\n1,2,3\n", ","),
    ("a;b;y\n1,5;2;3\n", ";"),           # decimal commas do not make it comma-separated
    ("a\tb\ty\n1\t2\t3\n", "\t"),
    ("name;note\nx;\"a, b, c\"\n", ";"),   # commas inside a quoted field
    ("y\n1\n2\n", ","),                   # one column: nothing to detect
])
def test_sniff_delimiter(sample, delimiter):
    assert sniff_delimiter(sample) == delimiter


def test_semicolon_file_reads_decimal_commas(tmp_path):
    t = read_csv(write(tmp_path, "a;b;y\n1,5;2;3,25\n-0,5;1.5;4\n"), target="y")
    np.testing.assert_array_equal(t.X, [[1.5, 2], [-0.5, 1.5]])
    np.testing.assert_array_equal(t.y, [3.25, 4])


def test_tab_file_and_explicit_decimal(tmp_path):
    t = read_csv(write(tmp_path, "a\ty\n1,5\t2\n"), target="y", decimal=",")
    assert t.X[0, 0] == 1.5
    with pytest.raises(CSVError, match=r"'1,5' is not a number"):
        read_csv(write(tmp_path, "a\ty\n1,5\t2\n"), target="y")


def test_delimiter_override(tmp_path):
    # Both ',' and ';' split every line in two: the tie goes to the comma; the user can say ';'.
    path = write(tmp_path, "x,a;b\n1,2;3\n")
    assert read_header(path) == ["x", "a;b"]
    assert read_header(path, delimiter=";") == ["x,a", "b"]


def test_wrong_delimiter_is_mentioned(tmp_path):
    path = write(tmp_path, "a|b|y\n1|2|3\n")
    with pytest.raises(CSVError, match=r"not found; the file has columns a\|b\|y \(read with delimiter ',' as a single column"):
        read_csv(path, target="y")  # '|' is not sniffed, so there is one column: the error says why


@pytest.mark.parametrize("encoding, bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"),
                                           ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_encodings(tmp_path, encoding, bom):
    path = tmp_path / "e.csv"
    path.write_bytes(bom + "café,y\n1,2\n".encode(encoding))
    t = read_csv(path, target="y")
    assert t.feature_names == ["café"] and t.X[0, 0] == 1


def test_gzip_file_is_read_directly(tmp_path):
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("a;y\n1,5;2\n")
    assert read_csv(path, target="y").X[0, 0] == 1.5
    assert read_table(path).cells["a"] == ["1,5"]


def test_encoding_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("a,y\n1,2\n3,caf\xe9\n".encode("latin-1"))
    with pytest.raises(CSVError, match=r"latin.csv, line 3, column 6 \(byte 13\): .* is not UTF-8"):
        read_csv(path, target="y")
    with pytest.raises(CSVError, match=r"latin.csv, line 3, column 6"):
        read_table(path)


@pytest.mark.parametrize("head, what", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old-style Excel workbook"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "a binary file"),
    (b"ab\x00cd\x00" * 20, "holds NUL bytes"),
])
def test_binary_files_are_named(tmp_path, head, what):
    path = tmp_path / "data.csv"
    path.write_bytes(head)
    with pytest.raises(CSVError, match=rf"data.csv looks like .*{what}"):
        read_csv(path)


def test_xlsx_is_recognised(tmp_path):
    import zipfile
    path = tmp_path / "book.csv"  # the wrong extension does not fool it
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(CSVError, match=r"book.csv looks like an Excel workbook \(.xlsx\); save the sheet as 'CSV"):
        read_table(path)


def test_parquet_is_read_with_pyarrow(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"year": [2014, 2015], "city": ["Paris", None], "y": [1.5, 2.0]}), path)
    t = read_table(path)
    assert t.columns == ["year", "city", "y"]
    assert t.cells["year"] == ["2014", "2015"] and t.cells["city"] == ["Paris", ""]
    assert t.where(1) == "row 1"


@pytest.mark.parametrize("cell, decimal, value", [
    ("12", ".", 12.0), (" -1.5 ", ".", -1.5), (".5", ".", 0.5), ("2e3", ".", 2000.0),
    ("1,5", ",", 1.5), ("1.5", ",", 1.5), ("1_000", ".", None), ("nan", ".", None), ("inf", ".", None),
    ("1e999", ".", None), ("1,5", ".", None), ("1O", ".", None), ("", ".", None), ("1,2,3", ",", None),
])
def test_parse_number_is_strict(cell, decimal, value):
    assert parse_number(cell, decimal) == value


def test_underscore_numbers_are_refused(tmp_path):
    with pytest.raises(CSVError, match=r"line 2, column 'a': '1_000' is not a number; write numbers without '_'"):
        read_csv(write(tmp_path, "a,y\n1_000,2\n"), target="y")


def test_read_table_keeps_cells_as_written(tmp_path):
    t = read_table(write(tmp_path, "year;price;city\n2014;1,5;Paris\n\n2015;NA;\"Lyon; Rhône\"\n"))
    assert (t.delimiter, t.decimal) == (";", ",")
    assert t.cells == {"year": ["2014", "2015"], "price": ["1,5", "NA"], "city": ["Paris", "Lyon; Rhône"]}
    assert t.lines == [2, 4] and t.where(1) == "line 4"
    sub = t.take([1])
    assert sub.cells["year"] == ["2015"] and sub.lines == [4]


def test_read_table_row_length_error_names_line_and_delimiter(tmp_path):
    with pytest.raises(CSVError, match=r"line 3: 1 fields, but the header has 2 .* delimiter ';'"):
        read_table(write(tmp_path, "a;b\n1;2\n3\n"))


def test_write_table_round_trip(tmp_path):
    t = read_table(write(tmp_path, "a;b\n1,5;x\n2;\"y;z\"\n"))
    out = tmp_path / "out.csv"
    write_table(t, out)
    assert out.read_text() == "a;b\n1,5;x\n2;\"y;z\"\n"


def test_raw_table_from_columns_and_dataframe():
    t = RawTable.from_columns({"a": [1, 2.5, None, float("nan")], "b": ["x", "y", "z", "w"]})
    assert t.cells["a"] == ["1", "2.5", "", ""] and t.where(2) == "row 2"
    with pytest.raises(ValueError, match="different lengths"):
        RawTable.from_columns({"a": [1], "b": [1, 2]})
    pd = pytest.importorskip("pandas")
    t = RawTable.from_columns(pd.DataFrame({"year": [2014, 2015], "v": [1.0, None]}))
    assert t.cells["year"] == ["2014", "2015"] and t.cells["v"] == ["1.0", ""] and t.source == "DataFrame"


def test_header_only_read_names_the_file_on_an_encoding_error(tmp_path):
    # The path ninestep train takes without --target (the last column): the error must name the file.
    path = tmp_path / "noheader.csv"
    path.write_bytes("caf\xe9,y\n1,2\n".encode("latin-1"))
    with pytest.raises(CSVError, match=r"noheader.csv, line 1, column 4 \(byte 3\)"):
        read_header(path)


def test_semicolon_file_no_longer_leaves_no_features(tmp_path):
    # Issue 14: "a;b;y" used to be one column, so no feature was left.
    t = read_csv(write(tmp_path, "a;b;y\n1;2;3\n"), target="y")
    assert t.feature_names == ["a", "b"]
