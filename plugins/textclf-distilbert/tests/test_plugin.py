"""textclf-distilbert against textclf's plugin kit: it loads, keeps the model contract, trains."""

from textclf.testing import check_component, check_export, check_model, check_plugin, check_training

TINY = {"pretrained": False, "dim": 16, "layers": 1, "heads": 2, "vocab_size": 300, "max_length": 64}


def test_plugin_registers_distilbert_through_its_entry_point():
    plugin = check_plugin("textclf-distilbert")
    assert plugin.entry_point == "distilbert = textclf_distilbert.plugin"
    assert [(c.kind, c.name) for c in plugin.components] == [("model", "distilbert")]


def test_distilbert_keeps_the_model_contract_and_documents_its_options():
    chosen = check_component("model", "distilbert")
    assert "--model.checkpoint" in [o.flag for o in chosen.options]


def test_a_few_training_steps_from_scratch(tmp_path):
    metrics = check_training(tmp_path, model="distilbert", model_options=TINY)
    assert metrics["steps"] == 4


def test_the_model_keeps_the_tensor_contract():
    # Includes: two builds from the same texts train the same WordPiece tokenizer.
    check_model("distilbert", model_options=TINY)


def test_it_exports_and_the_onnx_model_keeps_the_contract(tmp_path):
    check_export(tmp_path, model="distilbert", model_options=TINY)


def test_two_identical_runs_from_scratch_give_the_same_metrics(tmp_path):
    # Once, each run trained its own WordPiece vocabulary and scored differently.
    first = check_training(tmp_path / "one", model="distilbert", model_options=TINY)
    second = check_training(tmp_path / "two", model="distilbert", model_options=TINY)
    assert first["val"] == second["val"] and first["test"] == second["test"]
