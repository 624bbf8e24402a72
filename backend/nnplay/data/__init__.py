"""2-D toy datasets: generators and catalog (`toy2d`), input features (`features`), the
spec-to-tensors pipeline with train-fitted normalisation (`dataset`), and the real data of
GANs (`gan_targets`).
"""

from nnplay.data.dataset import Dataset, build_dataset
from nnplay.data.features import FEATURE_INFO
from nnplay.data.gan_targets import GanData, build_gan_data
from nnplay.data.toy2d import DATASET_INFO

__all__ = ["DATASET_INFO", "FEATURE_INFO", "Dataset", "GanData", "build_dataset",
           "build_gan_data"]
