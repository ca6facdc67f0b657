"""Training: run directories, the Lightning Trainer, the data-model-lit-model pipeline.

Import the submodules you need: ``textclf.training.trainer_options`` stays torch-free so that
``textclf train --help`` is quick; ``textclf.training.pipeline`` imports torch and Lightning.
"""
