"""textclf-distilbert against textclf's plugin kit: it loads, keeps the model contract, trains."""

from textclf.testing import check_component, check_plugin, check_training


def test_plugin_registers_distilbert_through_its_entry_point():
    plugin = check_plugin("textclf-distilbert")
    assert plugin.entry_point == "distilbert = textclf_distilbert.plugin"
    assert [(c.kind, c.name) for c in plugin.components] == [("model", "distilbert")]


def test_distilbert_keeps_the_model_contract_and_documents_its_options():
    chosen = check_component("model", "distilbert")
    assert "--model.checkpoint" in [o.flag for o in chosen.options]


def test_a_few_training_steps_from_scratch(tmp_path):
    metrics = check_training(tmp_path, model="distilbert", model_options={
        "pretrained": False, "dim": 16, "layers": 1, "heads": 2, "vocab_size": 300, "max_length": 64})
    assert metrics["steps"] == 4
