"""textclf-fasttext: a fastText-style classifier and its training regime, as a textclf plugin."""

__version__ = "0.1.0"
