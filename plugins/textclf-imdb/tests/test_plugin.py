"""The textclf-imdb distribution is installed and loads through its entry point."""

from textclf.plugins import PluginHost


def test_plugin_loads_through_its_entry_point():
    host = PluginHost(strict=True)
    host.load_entry_points()
    [plugin] = [p for p in host.plugins if p.name == "textclf-imdb"]
    assert plugin.error is None
    assert plugin.entry_point == "imdb = textclf_imdb.plugin"
