"""The textclf-distilbert distribution is installed and registers the distilbert model."""

from textclf.plugins import PluginHost


def test_plugin_registers_distilbert_through_its_entry_point():
    host = PluginHost(strict=True)
    host.load_builtins()
    host.load_entry_points()
    [plugin] = [p for p in host.plugins if p.name == "textclf-distilbert"]
    assert (plugin.error, plugin.entry_point) == (None, "distilbert = textclf_distilbert.plugin")
    [model] = plugin.components
    assert (model.kind, model.name, model.target) == ("model", "distilbert", "textclf_distilbert.model:DistilBERT")
