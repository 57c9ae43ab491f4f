"""The transaction models' names, for the run configuration (:mod:`analysis.config`), which checks them before any
model is needed: importing the models (SciPy's statistics) took a third of a second of every run's start, before
its data were read. :mod:`analysis.models.registry` lists the models themselves and checks that they are these.
"""

MODEL_NAMES: tuple[str, ...] = ("bgnbd", "pareto", "mbgnbd", "ggompertz")
"""The names of :data:`analysis.models.registry.REGISTRY`, in its order."""

COMPARED_BY_DEFAULT: tuple[str, ...] = ("bgnbd", "pareto", "mbgnbd")
"""Those of its models that are compared by default (``compared_by_default``)."""
