"""Tasks, as the study file sees them: each task's own table and the data sources it reads.

A task (classification, detection, segmentation, ...) is three registered parts, one per layer, all under the
task's name (docs/architecture.md):

* here, torch-free, its :class:`TaskConfig`: the model of its own table (``[detection]``), which data sources it
  accepts, and any check across tables;
* :mod:`tunedepth.analysis.tasks`: its tables for the analysis and its sections of the report;
* :mod:`tunedepth.study.tasks`: how its runs get their data and score their cases.

The study file is validated through :data:`TASK_CONFIGS`, so a task registered from outside the package validates
like the built-in ones.
"""

from __future__ import annotations

from tunedepth.config.tasks.base import TASK_CONFIGS, TaskConfig, register_task_config

# Each import below registers its task.
from tunedepth.config.tasks.classification import CLASSIFICATION
from tunedepth.config.tasks.detection import DetectionConfig
from tunedepth.config.tasks.frame_classification import FrameClassificationConfig
from tunedepth.config.tasks.segmentation import SegmentationConfig
from tunedepth.config.tasks.volume_candidates import VolumeCandidatesConfig

__all__ = ["CLASSIFICATION", "TASK_CONFIGS", "DetectionConfig", "FrameClassificationConfig", "SegmentationConfig",
           "TaskConfig", "VolumeCandidatesConfig", "register_task_config"]
