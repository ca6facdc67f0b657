"""textclf hooks of the IMDB plugin.

The ``imdb`` data module is registered once it exists; until then this plugin provides nothing.
"""

TEXTCLF_PLUGIN_API = 1
