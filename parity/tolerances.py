"""Every tolerance of the parity checks, with the reason for its value.

The figures quoted were measured on TensorFlow 2.21, CPU, mnist_cnn, Fashion-MNIST, four
batch streams; `python scripts/noise_floor.py` measures them again.
"""
import math
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Tolerance:
    value: float
    why: str


@dataclass(frozen=True)
class Tolerances:
    forward_atol: Tolerance = Tolerance(
        1e-5, "Same weights and float32 kernels, so outputs differ only by summation order; TensorFlow's "
              "migration guide compares inference at atol 1e-5 and rtol 1e-6. mnist_cnn: 0.0 (bit for bit).")
    forward_rtol: Tolerance = Tolerance(
        1e-6, "Relative part of the same comparison, for models whose outputs are large.")
    gradient_rtol: Tolerance = Tolerance(
        1e-4, "max |g_legacy - g_eager| / max |g_legacy| per variable, at the start. A broadcast `+ biases` "
              "reduces its gradient with Sum, Keras' bias_add with BiasAddGrad: a different order, about 1e-6 "
              "apart. Along a training run gradients are reported, not judged: at resnet18's Adam 0.01, by "
              "step 23 some batch-norm channels have near-zero variance and their gradients cancel, so the "
              "same weights give gradients 1e-2 apart while the losses still agree to 1e-6.")
    kink_input_rtol: Tolerance = Tolerance(
        1e-4, "A batch whose gradients part is put down to rounding at a kink (parity.kinks) only if every "
              "ReLU / max-pool input of the two styles agrees within this, relative to the op's largest input. "
              "resnet18's 17 layers of rounding leave at most 5.3e-6 on its first four Fashion-MNIST stand-in "
              "batches; mnist_cnn's fc1 kernel scaled by 1.01 moves fc1's ReLU inputs by 9.4e-3.")
    dead_loss_atol: Tolerance = Tolerance(
        1e-5, "A trainable variable is dead (its gradient is zero in exact arithmetic, so its computed gradient "
              "is rounding noise and is not compared) when moving it by 0.5 * max(1, max |v|) with random signs "
              "changes the training-mode loss by no more than this: a conv bias feeding batch norm changes it by "
              "about 1e-7, a live variable by orders more. resnet18's 17 such biases reach up to 1.7e-4 of the "
              "largest gradient, so no magnitude threshold can tell them from small live gradients.")
    step_loss_atol: Tolerance = Tolerance(
        1e-5, "Loss of every teacher-forced step: both styles evaluate the same weights on the same batch, so "
              "only summation order separates them (TensorFlow's guide: atol 1e-5 for the first steps).")
    step_weights_atol: Tolerance = Tolerance(
        1e-6, "Every weight after every teacher-forced update, absolute part: the same gradients go through "
              "Adam written as one fused kernel (TF1) and as several ops (Keras), an ulp or two apart.")
    step_weights_rtol: Tolerance = Tolerance(
        1e-5, "Relative part of the same bound, for large values such as batch-norm moving variances. "
              "Keras' default Adam epsilon (1e-7 against 1e-8) moves mnist_cnn weights by up to 1e-4 in one step.")
    accuracy_points: Tolerance = Tolerance(
        0.5, "Test accuracy in percentage points after the same recipe from the same start; on 10,000 test "
             "images one point is 100 images.")

    informative_accuracy: Tolerance = Tolerance(
        2.0, "An accuracy check counts only where both styles score at least this many times chance (the share "
             "of the most frequent test class), or halfway from chance to 100% where that is lower: below it two "
             "models that learned little agree, which proves little. mobilenet_v2's 115-step recipe left both "
             "styles at 20.00%, chance for 5 classes, and the check had passed.")

    reconstruction_atol: Tolerance = Tolerance(
        1e-3, "Test reconstruction loss (binary cross-entropy per pixel) of both styles after the recipe from "
              "the same start, each training on its own. conv_autoencoder on Fashion-MNIST after the document's "
              "844 steps: 0.3078 in both; the styles part by 1.2e-4, the legacy graph from a start one ulp "
              "away by less than 1e-5.")


DEFAULT = Tolerances()


def for_model(name: str) -> Tolerances:
    """The tolerances of a registered model."""
    from parity import registry

    return for_spec(registry.get(name))


def for_spec(spec) -> Tolerances:
    """The tolerances of a registered model or a user's pair: the defaults, with the exceptions its
    ModelSpec.tolerances gives, each with its reason."""
    return with_overrides(spec.tolerances)


def with_overrides(overrides=()) -> Tolerances:
    """The defaults with `overrides`: (name, value) pairs, a value a Tolerance, a number, or a
    configuration's {value, why}."""
    own = {key: _tolerance(key, value) for key, value in overrides}
    unknown = [key for key in own if not hasattr(DEFAULT, key)]
    if unknown:
        known = ", ".join(f.name for f in fields(Tolerances))
        raise ValueError(f"unknown tolerance {unknown[0]!r}; the tolerances are: {known}")
    return replace(DEFAULT, **own)


def _tolerance(key, value):
    """A Tolerance from a configuration's value: a number, or {value = N, why = "..."}."""
    if isinstance(value, Tolerance):
        return value
    if isinstance(value, dict):
        if set(value) - {"value", "why"} or not _number(value.get("value")):
            raise ValueError(f"tolerance {key}: expected a finite number >= 0 or {{value = N, why = \"...\"}}, got "
                             f"{value!r}")
        return Tolerance(float(value["value"]), str(value.get("why") or "set by the pair's configuration"))
    if not _number(value):
        raise ValueError(f"tolerance {key}: expected a finite number >= 0, got {value!r}")
    return Tolerance(float(value), "set by the pair's configuration")


def _number(value):
    """A tolerance a comparison can fail against: NaN would pass every difference, a negative one none."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
