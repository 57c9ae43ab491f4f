"""Customer-retention and customer-lifetime-value reporting kit.

Importing the package has no side effects: no I/O, no logging set-up and no
warning filters. The pipeline lives in :mod:`analysis.pipeline`; the stages
are plain functions in the other modules.
"""

__version__ = "0.1.0"
