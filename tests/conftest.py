import atexit
import os
import shutil
import tempfile

# Never touch the network, and keep the screen deterministic for snapshots.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("NO_COLOR", None)
os.environ.pop("TEXTUAL_THEME", None)
# Exported ONNX graphs go to a throwaway cache, never the user's (subprocesses inherit it).
os.environ["MLM_TUI_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlm-tui-test-cache-")

import pytest
from tiny_models import save_bert, save_roberta

# Sessions, exports and the config file of every test (and of every process a test starts) go to a
# throwaway folder, never the developer's own.
_XDG = tempfile.mkdtemp(prefix="mlm-tui-tests-")
atexit.register(shutil.rmtree, _XDG, ignore_errors=True)
for _name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
    os.environ[_name] = os.path.join(_XDG, _name.lower())
atexit.register(shutil.rmtree, os.environ["MLM_TUI_CACHE_DIR"], True)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory):
    return save_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def roberta_dir(tmp_path_factory):
    return save_roberta(tmp_path_factory.mktemp("tiny-roberta"))


@pytest.fixture(scope="session")
def zoo(tmp_path_factory):
    """``zoo(model_type)``: a tiny random model of that masked-LM type (tests/tiny_zoo.py), built once per session."""
    from tiny_zoo import save_tiny

    root = tmp_path_factory.mktemp("zoo")
    built: dict[str, object] = {}

    def folder(model_type: str):
        if model_type not in built:
            built[model_type] = save_tiny(root / model_type, model_type)
        return built[model_type]

    return folder


@pytest.fixture(scope="session")
def bert(bert_dir):
    from mlm_tui.engine import MaskedLM

    return MaskedLM.load(str(bert_dir))


@pytest.fixture(scope="session")
def roberta(roberta_dir):
    from mlm_tui.engine import MaskedLM

    return MaskedLM.load(str(roberta_dir))


def pytest_addoption(parser):
    parser.addoption(
        "--random-keys",
        type=int,
        default=0,
        help="keys per seed for the random-key tests (default: a short run for CI)",
    )


@pytest.fixture
def random_keys(request) -> int:
    return request.config.getoption("--random-keys")


@pytest.fixture(scope="session")
def bert_onnx(bert_dir):
    from mlm_tui.engine import MaskedLM

    return MaskedLM.load(str(bert_dir), backend="onnx")


@pytest.fixture(scope="session")
def roberta_onnx(roberta_dir):
    from mlm_tui.engine import MaskedLM

    return MaskedLM.load(str(roberta_dir), backend="onnx")


@pytest.fixture(scope="session")
def bundled_engine():
    """The bundled English model on PyTorch (no ONNX export in tests that do not ask for it)."""
    from mlm_tui.engine import BUNDLED_MODEL, MaskedLM

    return MaskedLM.load(BUNDLED_MODEL, backend="torch")
