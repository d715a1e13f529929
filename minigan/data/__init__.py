"""Datasets. ``minigan.data.mnist``: the MNIST IDX reader, checksummed download and batches."""

from . import mnist
from .mnist import (Batches, MNISTError, MNISTNotFoundError, batches, download_mnist,
                    find_mnist, load_mnist, read_idx, scale)

__all__ = ["mnist", "load_mnist", "find_mnist", "download_mnist", "read_idx", "scale",
           "Batches", "batches", "MNISTError", "MNISTNotFoundError"]
