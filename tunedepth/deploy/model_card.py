"""``MODEL_CARD.md``: an exported model described for people (what it is, the data, its test performance with
intervals, calibration, intended use and limitations, "not for clinical use"), rendered from ``model.json``'s
record (:class:`~tunedepth.deploy.model_folder.ExportedModel`) with a jinja2 template
(``templates/model_card.md.j2``), after Mitchell et al., "Model cards for model reporting", FAT* 2019.
"""

from __future__ import annotations

from importlib.resources import files

import jinja2

from tunedepth.deploy.model_folder import ExportedModel

__all__ = ["model_card"]


def model_card(info: ExportedModel) -> str:
    """The model card of the exported model ``info`` (Markdown)."""
    text = (files("tunedepth.deploy") / "templates" / "model_card.md.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=False)
    return env.from_string(text).render(m=info, **_facts(info))


def _facts(m: ExportedModel) -> dict[str, object]:
    level = f"{m.confidence:.0%}"
    source = m.source
    counts = m.data.class_counts
    if source.regime == "scratch":
        configuration = (f"trained from scratch (random initialisation, every layer group trained); label "
                         f"`{source.label}`.")
    else:
        trained = m.groups[-source.depth:] if 0 < source.depth <= len(m.groups) else m.groups
        method = source.method or "layerwise"
        start = source.starting_weights or "the study's starting weights"
        span = f"group {trained[0]}" if len(trained) == 1 else f"groups {trained[0]}–{trained[-1]}"
        which = f": {span} trained, the others frozen" if method == "layerwise" else ""
        configuration = (f"fine-tuned from {start} with the `{method}` method at depth {source.depth} (label "
                         f"`{source.label}`{which}).")
    trained_text = (f"at {source.train_fraction:.0%} of the training split, seed {source.seed}, learning rate "
                    f"{source.lr:g}, best epoch {source.best_epoch} on validation.")
    if m.refit is not None:
        trained_text += (f" **Refitted** (`--refit`): the same configuration trained again on the training and "
                         f"validation cases together ({m.refit.n_train} cases) for {m.refit.epochs} epochs, keeping "
                         "the last; the test numbers below are the refitted model's.")
    interval = f"{level} DeLong interval [{m.test_auc_low:.3f}, {m.test_auc_high:.3f}]"
    auc = f"{m.test_auc:.3f}" + ("" if m.threshold is None else f" ({interval})")
    input_text = (f"{m.input.image_size} x {m.input.image_size} px, 3 channels ({m.input.steps}).")
    if (vol := m.input.volumes) is not None:
        widths = ", ".join(f"{w:g}" for w in vol.settings["widths"])  # type: ignore[attr-defined]
        input_text = (f"a candidate (a point in a volume), seen as {vol.image_size} x {vol.image_size}-px 3-channel "
                      f"patches {widths} {vol.unit} wide ({vol.settings['views']} views; {vol.steps}); intensities "
                      f"{vol.window[0]:g}..{vol.window[1]:g} mapped to 0..255.")
    if m.input.crops is not None:
        input_text += (f" Each image is scored by the mean probability over {len(m.input.crops)} fixed crops of it at "
                       f"{m.input.frame_size} px ({m.input.crop_steps}).")
    ece = m.calibration.expected_calibration_error
    advice = ("The probabilities are close to the observed frequencies on test." if ece < 0.05 else
              "The probabilities are not calibrated well enough to be read as risks; rank or threshold them instead, "
              "or recalibrate on data of your own.")
    settings = ", ".join(f"{k} = {v}" for k, v in m.data.settings.items() if v is not None)
    like = f"images like those of the study's data (data.source = {m.data.settings.get('source')}"
    like += f", {flag})" if (flag := m.data.settings.get("flag")) is not None else ")"
    threshold = m.threshold
    shift = ""
    if threshold is not None:
        low, high = threshold.test_specificity_interval
        if not low <= 1 - threshold.fpr_target <= high:
            shift = (f" **The validation target does not carry over:** the test specificity's interval excludes "
                     f"{1 - threshold.fpr_target:.2f}, so the test cases' negatives score differently from the "
                     "validation cases'; choose the operating point on cases like those the model will see.")
    return {
        "threshold_shift": shift,
        "classes": ", ".join(f"{k} = {name}" for k, name in enumerate(m.class_names)),
        "configuration": configuration,
        "trained": trained_text,
        "input": input_text,
        "data_settings": settings,
        "class_header": " | ".join(m.class_names),
        "class_rule": "---:|" * len(m.class_names),
        "split_rows": [(split, sum(counts[split]), " | ".join(str(c) for c in counts[split]))
                       for split in ("train", "val", "test") if split in counts],
        "auc": auc,
        "auc_interval": interval if m.threshold is not None else "not computed for more than two classes",
        "level": level,
        "sens": "" if threshold is None else _rate(threshold.test_sensitivity, threshold.test_sensitivity_interval),
        "spec": "" if threshold is None else _rate(threshold.test_specificity, threshold.test_specificity_interval),
        "refit_threshold": "" if m.refit is None else " (the original run's validation predictions: the refitted "
                                                        "model has no held-out cases to choose on)",
        "calibration_advice": advice,
        "like": like,
        "files": sorted(m.files.items()),
    }


def _rate(value: float, interval: tuple[float, float]) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"
