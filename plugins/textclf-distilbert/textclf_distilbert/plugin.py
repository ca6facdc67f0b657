"""textclf hooks of the DistilBERT plugin.

The ``distilbert`` model is registered once it exists; until then this plugin provides nothing.
"""

TEXTCLF_PLUGIN_API = 1
