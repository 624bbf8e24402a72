"""2-D toy datasets: generators and catalog (`toy2d`), input features (`features`) and the
spec-to-tensors pipeline with train-fitted normalisation (`dataset`).
"""

from nnplay.data.dataset import Dataset, build_dataset
from nnplay.data.features import FEATURE_INFO
from nnplay.data.toy2d import DATASET_INFO

__all__ = ["DATASET_INFO", "FEATURE_INFO", "Dataset", "build_dataset"]
