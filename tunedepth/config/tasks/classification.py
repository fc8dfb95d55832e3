"""``task = "classification"``: one label per image (the paper's frame classification, MedMNIST, your folders)."""

from __future__ import annotations

from tunedepth.config.tasks.base import TaskConfig, register_task_config

__all__ = ["CLASSIFICATION"]

CLASSIFICATION = register_task_config(TaskConfig(
    name="classification",
    description="one label per image",
    data_sources=("medmnist", "image_folder", "csv_manifest"),
    needs="image labels",
))
