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

atexit.register(shutil.rmtree, os.environ["MLM_TUI_CACHE_DIR"], True)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory):
    return save_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def roberta_dir(tmp_path_factory):
    return save_roberta(tmp_path_factory.mktemp("tiny-roberta"))


@pytest.fixture(scope="session")
def bert(bert_dir):
    from mlm_tui.engine import MaskedLM

    return MaskedLM.load(str(bert_dir))


@pytest.fixture(scope="session")
def roberta(roberta_dir):
    from mlm_tui.engine import MaskedLM

    return MaskedLM.load(str(roberta_dir))


@pytest.fixture(scope="session")
def bert_onnx(bert_dir):
    from mlm_tui.engine import MaskedLM

    return MaskedLM.load(str(bert_dir), backend="onnx")


@pytest.fixture(scope="session")
def roberta_onnx(roberta_dir):
    from mlm_tui.engine import MaskedLM

    return MaskedLM.load(str(roberta_dir), backend="onnx")
