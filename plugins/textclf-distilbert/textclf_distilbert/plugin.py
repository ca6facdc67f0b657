"""textclf hooks of the DistilBERT plugin."""

from textclf import hookimpl

TEXTCLF_PLUGIN_API = 1


@hookimpl
def register_models(register):
    register("distilbert", "textclf_distilbert.model:DistilBERT",
             help="DistilBERT or any BERT-family encoder from the hub or a directory, fine-tuned")
