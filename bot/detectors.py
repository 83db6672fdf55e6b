"""Builds the detectors and the pipeline from settings; the one place that knows which detectors exist."""

from __future__ import annotations

import logging
from typing import Mapping

from bot.config import Settings
from bot.pipeline import Pipeline
from bot.store import Store
from classifiers.base import TextDetector

log = logging.getLogger(__name__)


def load_text_detectors(settings: Settings) -> tuple[list[TextDetector], Mapping[str, float], Mapping[str, float]]:
    """The shipped text model, its review thresholds and its action thresholds (raises if the model file is missing)."""
    from classifiers.text import TextClassifier

    model = TextClassifier.load(settings.model_path)
    return [model], dict(model.thresholds), dict(model.action_thresholds)


def build_pipeline(settings: Settings, store: Store) -> Pipeline:
    detectors, thresholds, action_thresholds = load_text_detectors(settings)
    scanner = None
    try:
        from bot.image_scan import ImageScan

        scanner = ImageScan(store, settings)
    except ImportError as exc:  # images are optional; text still works
        log.warning("image scanning unavailable: %s", exc)
    return Pipeline(settings, store, detectors, image_scanner=scanner, base_thresholds=thresholds, action_thresholds=action_thresholds)
