"""TensorFlow set-up shared by every command: quiet logs, deterministic kernels, no TF32."""
import contextlib
import os
import platform
import sys


def import_tensorflow(deterministic=True):
    """Imports TensorFlow with its C++ info logs off; returns the module.

    Parity runs want repeatable numbers: op determinism on, and TF32 matmuls off (on by
    default on Ampere and newer GPUs, where they cut float32 precision to about 1e-3).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules and os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0":
        # absl writes INFO lines (oneDNN, CPU features) before TF's log level is read; no
        # setting stops them, so stderr is closed for the import itself only.
        with _quiet_stderr():
            import tensorflow  # noqa: F401
            import keras  # noqa: F401
    import tensorflow as tf

    # The legacy tree uses deprecated TF1 APIs on purpose; their notices would bury the output.
    tf.get_logger().setLevel("ERROR")
    if deterministic:
        tf.config.experimental.enable_tensor_float_32_execution(False)
        # CPU kernels repeat bit for bit without the flag, and with it XLA refuses MaxPool
        # gradients (pitfall `determinism-xla-maxpool`); GPU kernels need it.
        if tf.config.list_physical_devices("GPU"):
            tf.config.experimental.enable_op_determinism()
    return tf


@contextlib.contextmanager
def _quiet_stderr():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def device_description():
    """Where the numbers were measured: CPU model and count, or the GPUs TensorFlow sees."""
    tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for gpu in gpus:
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return "GPU: " + ", ".join(names)
    return f"CPU: {cpu_model()} ({os.cpu_count()} logical cores)"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions():
    tf = import_tensorflow()
    import keras

    return {"tensorflow": tf.__version__, "keras": keras.__version__}
