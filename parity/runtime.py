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


def keras_backend():
    """The Keras backend this process runs (KERAS_BACKEND, else Keras' configuration)."""
    if "keras" not in sys.modules and has_tensorflow() and os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") != "0":
        with _quiet_stderr():  # Keras on TensorFlow imports it, and absl speaks at import
            import keras  # noqa: F401
    import keras

    return keras.backend.backend()


def has_tensorflow():
    import importlib.util

    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


DEVICES = ("auto", "cpu", "gpu")


def select_device(device="auto"):
    """Called before any model is built. `cpu` hides every GPU, `gpu` requires one, `auto` takes
    what there is; on a GPU, TF32 is off (full float32 matmuls and convolutions) and ops are
    deterministic, for TensorFlow and for JAX (pitfall `gpu-tf32-jit-auto`). Returns what the
    report states; raises RuntimeError where `gpu` finds none."""
    backend = keras_backend()
    if backend == "jax":
        import jax

        if device == "cpu":
            jax.config.update("jax_platforms", "cpu")
        else:
            flags = os.environ.get("XLA_FLAGS", "")
            if "xla_gpu_deterministic_ops" not in flags:
                os.environ["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops=true").strip()
            jax.config.update("jax_default_matmul_precision", "highest")
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
    elif backend == "torch":
        gpus = _torch_gpus()
        if device == "cpu" and gpus:
            raise RuntimeError("--device cpu: Keras' torch backend took the GPU at import; set KERAS_TORCH_DEVICE=cpu "
                               "before it starts (the tf-parity command does)")
        if gpus:
            import torch

            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    else:
        gpus = []
    if has_tensorflow():
        tf = import_tensorflow()
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        tf_gpus = tf.config.get_visible_devices("GPU")
        if tf_gpus:
            tf.config.experimental.enable_op_determinism()
        if backend == "tensorflow":
            gpus = tf_gpus  # on JAX, a GPU TensorFlow sees is not the one the port trains on
    if device == "gpu" and not gpus:
        raise RuntimeError(f"--device gpu: no GPU is visible to Keras' {backend} backend"
                           + ("" if backend == "jax" or has_tensorflow() else " (TensorFlow is not installed)"))
    on_gpu = bool(gpus) and device != "cpu"
    return {"asked": device, "keras_backend": backend, "device": device_description(),
            "tf32": "off" if on_gpu else "not used on a CPU",
            "deterministic_ops": "on" if on_gpu else "CPU kernels repeat bit for bit without it"}


def _torch_gpus():
    """The names of the GPUs Keras' torch backend trains on: none where KERAS_TORCH_DEVICE, read when
    Keras starts, names another device."""
    import torch

    if not torch.cuda.is_available() or not os.environ.get("KERAS_TORCH_DEVICE", "cuda").startswith("cuda"):
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def torch_environment(device):
    """Settings Keras' torch backend reads when it starts, set before Keras is imported: `--device cpu`
    keeps it off a GPU, and OpenMP's threads sleep while they wait (on busy cores, spinning threads
    made a mnist_cnn step 7 times slower)."""
    if os.environ.get("KERAS_BACKEND") != "torch" or "keras" in sys.modules:
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if device == "cpu":
        os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")


def device_description():
    """Where the numbers were measured: CPU model and count, or the GPUs the backend sees."""
    if keras_backend() == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            return "GPU: " + ", ".join(getattr(d, "device_kind", str(d)) for d in gpus)
    elif keras_backend() == "torch":
        gpus = _torch_gpus()
        if gpus:
            return "GPU: " + ", ".join(gpus)
    elif has_tensorflow():
        tf = import_tensorflow()
        gpus = tf.config.list_physical_devices("GPU")
        if gpus and tf.config.get_visible_devices("GPU"):
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
    """TensorFlow's version (None where it is not installed: a port verified on JAX) and Keras'."""
    import keras

    return {"tensorflow": import_tensorflow().__version__ if has_tensorflow() else None,
            "keras": keras.__version__}
