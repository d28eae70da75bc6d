"""The analyst notebooks: each .py has its .ipynb twin in sync and stripped of outputs, and every notebook runs
end to end on a small region built by the demo pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from api.pipeline import DemoPipeline
from config.settings import Settings

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PAIRED = sorted(NOTEBOOKS.glob("*.py"))


def test_there_are_the_three_notebooks() -> None:
    assert {p.stem for p in PAIRED} == {"explore_region_profiles", "retrain_and_compare", "validation_deep_dive"}
    assert {p.stem for p in NOTEBOOKS.glob("*.ipynb")} == {p.stem for p in PAIRED}


@pytest.mark.parametrize("source", PAIRED, ids=lambda p: p.stem)
def test_pair_in_sync_and_outputs_stripped(source: Path) -> None:
    text = jupytext.read(source)
    stored = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert [(c.cell_type, c.source) for c in stored.cells] == [(c.cell_type, c.source) for c in text.cells], (
        f"{source.name} and its .ipynb differ: run `jupytext --sync {source}`")
    for cell in stored.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{source.stem}: outputs not stripped"
    assert any("parameters" in c.metadata.get("tags", []) for c in stored.cells), "no parameters cell"


@pytest.fixture(scope="module")
def small_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-enterprise demo region built end to end (profiles, champion, service database with loans)."""
    data_dir = tmp_path_factory.mktemp("notebook-data")
    DemoPipeline(Settings(data_dir=data_dir, demo_enterprises=300, seed=17)).run()
    return data_dir


@pytest.mark.slow
@pytest.mark.parametrize("source", PAIRED, ids=lambda p: p.stem)
def test_notebook_runs_on_a_small_region(source: Path, small_region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XINYI_DATA_DIR", str(small_region))
    monkeypatch.setenv("XINYI_NOTEBOOK_ROWS", "200")
    monkeypatch.setenv("XINYI_NOTEBOOK_REGISTER", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute(env=dict(os.environ))
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
