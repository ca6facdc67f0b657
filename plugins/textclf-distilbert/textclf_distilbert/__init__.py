"""textclf-distilbert: DistilBERT (and other BERT-family encoders) as a textclf model plugin."""

__version__ = "0.1.0"
