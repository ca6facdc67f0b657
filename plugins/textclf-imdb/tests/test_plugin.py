"""textclf-imdb against textclf's plugin kit: it loads, keeps the data contract, and trains."""

from textclf.testing import check_component, check_plugin, check_training
from textclf_imdb.synthetic import write_archive


def test_plugin_registers_imdb_through_its_entry_point():
    plugin = check_plugin("textclf-imdb")
    assert plugin.entry_point == "imdb = textclf_imdb.plugin"
    assert [(c.kind, c.name) for c in plugin.components] == [("data", "imdb")]


def test_imdb_keeps_the_data_contract_and_documents_its_options():
    chosen = check_component("data", "imdb")
    assert [o.flag for o in chosen.options][:3] == ["--data.path", "--data.url", "--data.sha256"]


def test_a_few_training_steps_on_an_archive(tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    write_archive(archive, 20)
    metrics = check_training(tmp_path, data="imdb", data_options={"path": str(archive)})
    assert metrics["confusion_matrix"]["labels"] == ["neg", "pos"]
