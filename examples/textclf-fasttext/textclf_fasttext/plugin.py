"""textclf hooks of the fastText plugin: light, so that listing plugins never imports torch."""

from textclf import hookimpl

TEXTCLF_PLUGIN_API = 1


@hookimpl
def register_models(register):
    register("fasttext", "textclf_fasttext.model:FastText",
             help="fastText-style: averaged word and hashed n-gram embeddings, then a linear layer")


@hookimpl
def register_lit_models(register):
    register("fasttext-sgd", "textclf_fasttext.regime:FastTextSGD",
             help="fastText's regime: plain SGD, a high learning rate decayed linearly to zero")
