"""The report generator: sections stamped with machine and date, the README table swapped
between its markers and nothing else touched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.lfw import every_pair_key
from benchmarks.report import (
    TABLE_END,
    TABLE_START,
    build_report,
    headlines,
    load_results,
    readme_with_table,
    summary_table,
)

MACHINE = {"cpu": "Test CPU 9000", "cores": 2, "date": "2031-02-03", "load_average": [3, 2, 1]}


def lfw_result() -> dict[str, Any]:
    row = {
        "embedder": "facenet128",
        "flip": False,
        "accuracy_best_threshold": 0.992,
        "folds": 10,
        "accuracy_10fold_mean": 0.989,
        "accuracy_10fold_std": 0.008,
        "accuracy_shipped_threshold": 0.987,
        "tar_at_far": {"tar": 0.95, "impostor_pairs": 500},
    }
    return {
        "benchmark": "lfw_view1",
        "machine": MACHINE,
        "view": "view1",
        "pairs": 1000,
        "published": [
            {"embedder": "facenet128", "model": "FaceNet A", "accuracy": 0.992, "source": "x"},
            {"embedder": "facenet512", "model": "FaceNet B", "accuracy": 0.9905, "source": "x"},
        ],
        "results": [row, {**row, "flip": True, "accuracy_best_threshold": 0.5}],
        "markdown": "| lfw table |\n|---|",
    }


def open_set_result() -> dict[str, Any]:
    def row(k: int, mode: str, dir_: float) -> dict[str, Any]:
        shipped = {"threshold": 0.55, "dir": dir_, "far": 0.027, "misidentified": 0.0}
        return {"embedder": "facenet128", "k": k, "mode": mode, "shipped": shipped}

    return {
        "machine": {**MACHINE, "date": "2031-02-04"},
        "people": 20,
        "strangers": 300,
        "precision": "int8",
        "load_average_before": [5.5, 4, 3],
        "results": [
            row(1, "classifier", 0.9),
            row(5, "classifier", 0.985),
            row(5, "gallery only", 0.1),
        ],
    }


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    folder.mkdir()
    files = {
        "lfw_view1": lfw_result(),
        "open_set_identification": open_set_result(),
        # a benchmark the report knows nothing of: declared headlines, its own table
        "gallery_ivf": {
            "machine": MACHINE,
            "headlines": [{"what": "NN search, 1M faces", "value": "4.2 ms"}],
            "markdown": "| gallery table |",
        },
        # an old-format result without a machine stamp and without markdown
        "legacy": {
            "faces_per_s": 12.5,
            "rows": [{"size": 10, "ms": 0.5}, {"size": 100, "ms": None, "extra": 2.0}],
        },
        # a known benchmark whose JSON lacks what its headline needs
        "throughput": {"machine": MACHINE, "unexpected": True},
    }
    for name, data in files.items():
        (folder / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "lfw_view1.png").write_bytes(b"png")
    return folder


def test_every_section_states_its_machine_and_date(results_dir: Path) -> None:
    report = build_report(load_results(results_dir), results_dir)
    sections = report.split("\n## ")[1:]
    assert len(sections) == 5
    for section in sections:
        assert "_Measured on " in section
    assert "Test CPU 9000, 2 cores, 2031-02-03; load average (1/5/15 min) 3 / 2 / 1 at the end" in (
        report
    )
    assert "5.5 / 4 / 3 at the start" in report
    assert "unknown CPU, ? cores, date not recorded" in report  # the legacy file says so


def test_known_sections_come_first_and_keep_their_tables(results_dir: Path) -> None:
    report = build_report(load_results(results_dir), results_dir)
    titles = [s.split("\n", 1)[0] for s in report.split("\n## ")[1:]]
    assert titles[0].startswith("Face verification: LFW View 1")
    assert titles[1].startswith("Open-set identification")
    assert titles[2].startswith("FaceNet throughput")
    assert titles[3:] == ["gallery_ivf", "legacy"]
    assert "| lfw table |" in report and "| gallery table |" in report
    # without markdown: the top-level numbers, then each list of records as a table
    assert "| faces_per_s | 12.5 |" in report
    assert "rows:\n\n| size | ms | extra |\n|---|---|---|\n| 10 | 0.5 | - |\n| 100 | - | 2 |" in (
        report
    )
    assert "![lfw_view1](results/lfw_view1.png)" in report
    assert "results/open_set_identification.png" not in report  # no plot, no link


def test_summary_rows_carry_figures_and_their_stamp(results_dir: Path) -> None:
    table = summary_table(load_results(results_dir))
    lines = table.splitlines()
    assert lines[0] == "| benchmark | result | measured on |"
    lfw = next(line for line in lines if "LFW view1 verification, facenet128" in line)
    # the ten-fold figure only: a threshold chosen on the pairs it scores is no estimate
    assert "10-fold 98.90% ± 0.80% (threshold fitted on the other folds)" in lfw
    assert "98.70% at the shipped threshold" in lfw
    assert "99.2" not in lfw.split("Published")[0] and "500 impostor pairs" in lfw
    assert "2031-02-03" in lfw
    assert "Published on View 2: FaceNet A 99.20%" in lfw and "FaceNet B" not in lfw
    assert sum("LFW view1 verification" in line for line in lines) == 1  # flip row left out
    open_set = next(line for line in lines if "Open-set" in line)
    assert "facenet128 int8, 20 people x 5 images" in open_set
    assert "98.5%" in open_set and "2.7% of 300" in open_set
    assert "2031-02-04" in open_set
    assert any("NN search, 1M faces | 4.2 ms" in line for line in lines)
    assert not any("throughput" in line.lower() for line in lines)  # unusable: no row


def test_readme_table_is_replaced_between_the_markers_only() -> None:
    readme = f"# Title\n\nintro\n\n{TABLE_START}\nold table\n{TABLE_END}\n\n## Layout\nrest\n"
    updated = readme_with_table(readme, "| new |")
    assert (
        updated == f"# Title\n\nintro\n\n{TABLE_START}\n| new |\n{TABLE_END}\n\n## Layout\nrest\n"
    )
    assert readme_with_table(updated, "| new |") == updated  # idempotent


def test_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        readme_with_table("# Title\n", "| t |")


def test_lfw_recipe_headline_is_the_verify_path_with_its_protocol() -> None:
    def row(name: str, accuracy: float) -> dict[str, Any]:
        return {"embedder": "facenet128", "row": name, "accuracy": accuracy}

    figures = {"accuracy_std": 0.004, "tar_at_far": 0.97}
    data = {
        "machine": MACHINE,
        "confirm": [{**row("API before", 0.987), **figures}, {**row("shipped", 0.994), **figures}],
        "api": [{**row("POST /api/v1/verify", 0.995), **figures}],
    }
    ((what, value),) = headlines("lfw_recipe", data)
    assert "through POST /api/v1/verify, facenet128" in what and "chosen on DevTrain" in what
    assert value.startswith("10-fold 99.50% ± 0.40% (threshold fitted on the other 9 folds)")
    assert "before issue 16: 98.70%" in value and "every pair" not in value
    # the shipped recipe's TAR over every pair of DevTest's images, where it was measured
    data["confirm"][1][every_pair_key(1e-4)] = 0.9288
    ((_, value),) = headlines("lfw_recipe", data)
    assert "every pair of DevTest's images (the pipeline in fp32): TAR 92.88% at FAR 1e-4" in value
    # without the /verify run, the offline pipeline's row stands in, saying so
    ((what, value),) = headlines("lfw_recipe", {**data, "api": []})
    assert "through the API's pipeline" in what and value.startswith("10-fold 99.40%")


def test_lfw_recipe_sets_the_shipped_recipe_beside_the_weights_authors() -> None:
    def row(embedder: str, lfw_set: str, name: str, accuracy: float) -> dict[str, Any]:
        return {"embedder": embedder, "set": lfw_set, "row": name, "accuracy": accuracy}

    authors = ("the author's", "the author's + flip averaging", "the author's + flip + mean")
    author = [
        row(embedder, lfw_set, name, accuracy)
        for embedder in ("facenet128", "facenet512")
        for lfw_set, base in (("devtrain", 0.99), ("devtest", 0.98))
        for name, accuracy in zip(
            (*authors, "shipped"), (base, base + 0.001, base + 0.002, 0.995), strict=True
        )
    ]
    data = {"machine": MACHINE, "confirm": [], "api": [], "author": author}
    (first, second) = headlines("lfw_recipe", data)
    assert "facenet128" in first[0] and "99.30 / 99.37 / 99.45% on View 2" in first[0]
    assert first[1] == (
        "devtrain 99.50% against 99.00% / 99.10% / 99.20%; "
        "devtest 99.50% against 98.00% / 98.10% / 98.20%"
    )
    assert "facenet512" in second[0] and "published: 99.05% on View 2" in second[0]
    # a results file from before the comparison has no headline for it
    assert headlines("lfw_recipe", {**data, "author": []}) == []
