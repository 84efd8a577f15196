from pathlib import Path

from click.testing import CliRunner

from app.cli import main


def _simulate(runner: CliRunner, folder: Path) -> None:
    result = runner.invoke(
        main,
        [
            "simulate",
            "--users",
            "300",
            "--items",
            "120",
            "--categories",
            "6",
            "--csv",
            str(folder / "interactions.csv"),
            "--ground-truth",
            str(folder / "truth.csv"),
        ],
    )
    assert result.exit_code == 0, result.output


def test_evaluate_prints_every_model_and_metric_on_simulated_data(tmp_path):
    runner = CliRunner()
    _simulate(runner, tmp_path)
    result = runner.invoke(
        main,
        [
            "evaluate",
            str(tmp_path / "interactions.csv"),
            "--ground-truth",
            str(tmp_path / "truth.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    header, _, *rows = result.output.splitlines()[1:]
    for column in ("HR@10", "NDCG@10", "MRR@10", "coverage", "train_s", "peak_MB"):
        assert column in header
    assert "GT-NDCG@10" in header
    names = [row.split()[0] for row in rows]
    assert names == ["recloop", "ease", "item-knn", "popularity"]
    assert rows[-1].split()[-2] == "1.00x"
    assert rows[1].split()[-1] == "1.00x"


def test_evaluate_refuses_a_file_without_the_required_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("USER,ITEM\n1,2\n")
    result = CliRunner().invoke(main, ["evaluate", str(bad)])
    assert result.exit_code == 1
    assert "header lacks USER_ID, ITEM_ID, TIMESTAMP" in result.output
