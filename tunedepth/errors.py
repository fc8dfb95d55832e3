"""Exceptions and warnings raised by tunedepth.

Every error caused by user input derives from :class:`TunedepthError`, itself a
``ValueError``; the command line turns it into one line on stderr and exit code 2.
Messages follow one template: the parameter or file, what was expected, what was
received, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "ExecutionError",
    "StudyFolderError",
    "TunedepthError",
    "UndefinedMetricWarning",
    "WeightsError",
]


class TunedepthError(ValueError):
    """Base class of every user-facing error (bad config, data, weights or arguments)."""


class ConfigError(TunedepthError):
    """The study file or a library argument is invalid."""


class DataError(TunedepthError):
    """A data file or folder is missing, corrupt or inconsistent."""


class StudyFolderError(TunedepthError):
    """A study folder is missing, is not a study, holds no finished runs, or its runs are inconsistent."""


class WeightsError(TunedepthError):
    """A weight file is missing, corrupt or does not fit the architecture."""


class ExecutionError(TunedepthError):
    """The study cannot go on for a reason outside Python, e.g. the system killed a worker process."""


class UndefinedMetricWarning(UserWarning):
    """A statistic is undefined for the given data (for example AUC with one class); NaN is returned."""
