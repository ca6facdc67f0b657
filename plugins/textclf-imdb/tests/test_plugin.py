"""The textclf-imdb distribution is installed and registers the imdb data module."""

from textclf.plugins import PluginHost


def test_plugin_registers_imdb_through_its_entry_point():
    host = PluginHost(strict=True)
    host.load_builtins()
    host.load_entry_points()
    [plugin] = [p for p in host.plugins if p.name == "textclf-imdb"]
    assert (plugin.error, plugin.entry_point) == (None, "imdb = textclf_imdb.plugin")
    [imdb] = plugin.components
    assert (imdb.kind, imdb.name, imdb.target) == ("data", "imdb", "textclf_imdb.data:IMDB")
    assert host.registry.get("data", "imdb").load().__name__ == "IMDB"
