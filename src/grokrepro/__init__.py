"""grokrepro: the science behind the grokking paper-figure pipeline.

Sub-packages are named after the studies (``metastable``, ``dichotomy``, ``ridge``); shared
pieces (config validation, numbers tables, plotting style, result I/O) live at the top level.
"""

__version__ = "0.1.0"
