"""The loss-curve PNG."""

from helpers import block_import

import pytest

from ninestep.plotting import plot_loss_curve


def test_writes_a_png_with_log_axis_and_labels(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed; pip install -e '.[test]'")
    import matplotlib.pyplot as plt

    seen = {}
    real_savefig = plt.Figure.savefig

    def spy(fig, *args, **kwargs):
        ax = fig.axes[0]
        seen.update(yscale=ax.get_yscale(), xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel(),
                    labels=[line.get_label() for line in ax.get_lines()])
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(plt.Figure, "savefig", spy)
    path = plot_loss_curve(tmp_path / "loss.png", [1.0, 0.5, 0.2], [1.1, 0.6, 0.3], best_epoch=2, loss_name="MSE")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert seen["yscale"] == "log" and seen["xlabel"] == "epoch" and seen["ylabel"].startswith("MSE")
    assert seen["labels"][:2] == ["train", "validation"]


def test_zero_loss_falls_back_to_linear_axis(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed; pip install -e '.[test]'")
    path = plot_loss_curve(tmp_path / "loss.png", [1.0, 0.0])
    assert path.stat().st_size > 0


def test_empty_loss_is_refused(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed; pip install -e '.[test]'")
    with pytest.raises(ValueError, match="non-empty"):
        plot_loss_curve(tmp_path / "loss.png", [])


def test_without_matplotlib_names_the_extra(tmp_path, monkeypatch):
    block_import(monkeypatch, "matplotlib")
    with pytest.raises(ImportError, match=r"pip install 'ninestep\[plot\]'"):
        plot_loss_curve(tmp_path / "loss.png", [1.0])
