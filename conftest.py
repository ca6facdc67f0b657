"""Settings for every test in this repository (core and plugins): nothing may reach the network.

Hugging Face libraries read these when first imported, so they are set before any test module
imports them. Only 127.0.0.1 is ever contacted, by tests that start their own servers.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
