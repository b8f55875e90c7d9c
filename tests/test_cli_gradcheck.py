"""ninestep gradcheck (cli/gradcheck.py) and ninestep reproduce (cli/reproduce.py)."""

import json

from test_cli import run


# ---------------------------------------------------------------------- gradcheck, reproduce
def test_gradcheck_passes_and_reports_each_layer(capsys):
    code, stdout, _ = run(capsys, "gradcheck", "--loss", "cross_entropy", "--outputs", "3", "--json")
    assert code == 0
    result = json.loads(stdout)
    assert len(result["report"]) == 3 and result["max_error"] < 1e-6 and result["ok"]


def test_gradcheck_fails_above_tolerance(capsys):
    code, stdout, _ = run(capsys, "gradcheck", "--tolerance", "1e-30")
    assert code == 1 and "FAILED" in stdout


def test_reproduce_measures_its_diagnosis(capsys):
    code, stdout, _ = run(capsys, "reproduce", "--epochs", "50", "--default-epochs", "3")
    assert code == 0
    for needle in ("[2, 4, 4, 3]", "Diagnosis", "dead", "linear pieces", "test MAE |a-b|", "(888, 122) *"):
        assert needle in stdout
    code, stdout, _ = run(capsys, "reproduce", "--epochs", "20", "--default-epochs", "2", "--json")
    result = json.loads(stdout)
    assert result["article"]["n_params"] == 47 and result["article"]["epochs"] == 20
    assert len(result["article"]["dead_relu_fraction"]) == 2
