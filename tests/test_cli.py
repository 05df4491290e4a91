import numpy as np
import pytest

from keras_nas import cli


def test_search_bundled_dataset_and_export(tmp_path, capsys):
    code = cli.main(["search", "wine", "--max-trials", "2", "--epochs", "1", "--export", str(tmp_path / "m")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("[keras_nas] trial") == 2
    assert "Leaderboard" in out and "Test accuracy of the refitted best model" in out
    assert (tmp_path / "m" / "saved_model.pb").exists()


def test_search_csv_with_string_target(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    labels = np.where(x[:, 0] > 0, "up", "down")
    lines = ["a,b,label,c"] + [f"{r[0]},{r[1]},{lab},{r[2]}" for r, lab in zip(x, labels)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines))
    code = cli.main(["search", str(path), "--target", "label", "--max-trials", "1", "--epochs", "1", "--quiet",
                     "--export", str(tmp_path / "m"), "--format", "keras"])
    out = capsys.readouterr().out
    assert code == 0 and "classification, 48 training and 12 test examples of shape (3,)" in out
    assert (tmp_path / "m.keras").exists()


def test_search_npz_regression(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype("float32")
    np.savez(tmp_path / "d.npz", x=x, y=x[:, 0] * 3.7 + 0.1)
    code = cli.main(["search", str(tmp_path / "d.npz"), "--max-trials", "1", "--epochs", "1"])
    assert code == 0 and "Test R^2" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["search", "imagenet"], "neither a bundled dataset"),
    (["search", "wine", "--max-trials", "0"], "max_trials must be a positive integer"),
    (["search", "wine", "--oracle", "genetic"], "Unknown oracle 'genetic'"),
])
def test_errors_are_reported_cleanly(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_csv_target_must_exist(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    assert cli.main(["search", str(tmp_path / "d.csv"), "--target", "y"]) == 2
    assert "--target 'y' is not a column" in capsys.readouterr().err


@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("none", None), ("3", 3)])
def test_trials_per_process_option(text, expected):
    assert cli._parser().parse_args(["search", "wine", "--trials-per-process", text]).trials_per_process == expected


def test_trials_per_process_option_is_checked(capsys):
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["search", "wine", "--trials-per-process", "often"])
    assert "expected auto, none or a positive integer; received 'often'" in capsys.readouterr().err
