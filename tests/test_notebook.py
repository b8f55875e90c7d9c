"""notebooks/nine_steps.ipynb: it runs from top to bottom, shows what it says, and is stored with its outputs."""

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "nine_steps.ipynb"


def outputs(nb) -> tuple[str, int]:
    """All text the code cells printed or returned, and the number of pictures."""
    text, images = [], 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                text.append("".join(out["text"]))
            elif out["output_type"] in ("display_data", "execute_result"):
                images += "image/png" in out["data"]
                text.append("".join(out["data"].get("text/plain", "")))
            elif out["output_type"] == "error":
                text.append(f"ERROR {out['ename']}: {out['evalue']}")
    return "\n".join(text), images


def assert_tells_the_story(nb) -> None:
    text, images = outputs(nb)
    assert "ERROR" not in text
    # the data, the loss curve, predictions against truth, the dead units, the surface, the gradient sizes,
    # the fix, the moons' decision boundary, and the sigmoid/ReLU gradients: eleven pictures
    assert images >= 11, f"only {images} pictures"
    assert "X (10000, 2) y (10000, 3)" in text
    assert "back-propagation against central differences: largest relative error" in text
    assert "after training:" in text and "hidden units dead" in text
    assert "killed by" in text
    assert "test accuracy 0.9" in text
    assert "sigmoid, last epoch" in text and "relu, last epoch" in text


def test_stored_notebook_has_the_outputs_of_one_top_to_bottom_run():
    # Where notebooks are rendered (GitHub, nbviewer) the stored outputs are what a learner reads.
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    counts = [cell["execution_count"] for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), "re-run the notebook from the top and save it"
    assert_tells_the_story(nb)


@pytest.mark.slow
def test_notebook_runs_without_error(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="pip install nbformat nbclient ipykernel")
    nbclient = pytest.importorskip("nbclient", reason="pip install nbformat nbclient ipykernel")
    pytest.importorskip("ipykernel", reason="pip install nbformat nbclient ipykernel")
    pytest.importorskip("matplotlib", reason="matplotlib is not installed; pip install -e '.[plot]'")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    # Runs in a scratch folder so that nothing it might write lands in the repository.
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and the traceback, if a cell fails
    assert_tells_the_story(json.loads(nbformat.writes(nb)))
