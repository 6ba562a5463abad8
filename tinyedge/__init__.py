"""tinyedge: trained Keras/TensorFlow models to measured, bit-exact int8 microcontroller firmware."""

__version__ = "0.1.0"
