"""The config file: read, checked, and every kind of breakage reported with its file and line."""

from __future__ import annotations

import sys

import pytest

from mlm_tui.config import Config, config_path, load_config


def write(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_a_missing_file_gives_the_defaults_without_a_problem(tmp_path):
    assert load_config(tmp_path / "none.toml") == (Config(), None)


def test_every_setting_is_read(tmp_path):
    path = write(
        tmp_path,
        'model = "bert-base-uncased"\ntop_k = 15\ndevice = "cuda:1"\nbackend = "onnx"\n'
        'fast = "bf16"\ntheme = "nord"\n\n[keys]\nmask = "x"\nundo = "ctrl+z,u"\n',
    )
    config, problem = load_config(path)
    assert problem is None
    assert (config.model, config.top_k, config.device, config.backend, config.fast, config.theme) == (
        "bert-base-uncased",
        15,
        "cuda:1",
        "onnx",
        "bf16",
        "nord",
    )
    assert dict(config.keys) == {"mask": "x", "undo": "ctrl+z,u"}


@pytest.mark.parametrize(("value", "expected"), [("true", "auto"), ("false", None), ('"bf16"', "bf16")])
def test_fast_takes_a_boolean_or_a_mode(tmp_path, value, expected):
    config, problem = load_config(write(tmp_path, f"fast = {value}\n"))
    assert problem is None and config.fast == expected


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ('model = "m"\ntop_k = 5\ndevice = "cpu\n', 3, "invalid TOML"),
        ('model = "m"\ncolour = "red"\n', 2, "unknown setting 'colour'"),
        ('model = "m"\n\n  top_k = "ten"\n', 3, "top_k must be a whole number"),
        ("top_k = 0\n", 1, "top_k must be a whole number"),
        ('device = "tpu"\n', 1, "device must be"),
        ('fast = "int4"\n', 1, "fast must be"),
        ('theme = "nord"\n[keys]\nmask = "x"\nclear = 3\n', 4, "keys.clear must be a non-empty string"),
        ('keys = "x"\n', 1, "keys must be a table"),
        ('top_k = 3\n[theme]\nname = "nord"\n', 2, "theme must be a non-empty string"),
        ("top_k = [\n", 1, "invalid TOML"),
    ],
)
def test_a_broken_file_gives_the_defaults_and_one_line_naming_file_and_line(tmp_path, text, line, needle):
    path = write(tmp_path, text)
    config, problem = load_config(path)
    assert config == Config()
    assert problem is not None and "\n" not in problem
    assert problem.startswith(f"config file {path}, line {line}: ")
    assert needle in problem


def test_the_file_lives_in_the_xdg_config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert config_path() == tmp_path / "mlm-tui" / "config.toml"


def test_show_writes_toml_that_reads_back_the_same(tmp_path):
    path = write(tmp_path, 'model = "a \\"quoted\\" name"\ntop_k = 3\nfast = true\n[keys]\n"ctrl+x" = "q"\n')
    config, problem = load_config(path)
    assert problem is None
    again, problem = load_config(write(tmp_path, config.as_toml()))
    assert problem is None and again == config
