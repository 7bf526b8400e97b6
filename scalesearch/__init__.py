"""scalesearch: architecture search and model-scaling exploration of residual CNN families."""

__version__ = "0.1.0"
