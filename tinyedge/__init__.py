"""tinyedge: trained Keras/TensorFlow models to measured, bit-exact int8 microcontroller firmware."""

__version__ = "0.1.0"

from tinyedge.api import compile  # noqa: E402  (light: the stages load when a compile runs)

__all__ = ["__version__", "compile"]
