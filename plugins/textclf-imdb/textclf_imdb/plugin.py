"""textclf hooks of the IMDB plugin."""

from textclf import hookimpl

TEXTCLF_PLUGIN_API = 1


@hookimpl
def register_data(register):
    register("imdb", "textclf_imdb.data:IMDB",
             help="IMDB movie reviews (Maas et al. 2011): 25k train / 25k test, neg/pos")
