"""textclf-imdb: the IMDB Large Movie Review Dataset as a textclf data plugin."""

__version__ = "0.1.0"
