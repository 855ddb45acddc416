"""Weight transfer between the styles in canonical order, and TF1 checkpoints into Keras."""
import re
from pathlib import Path

import numpy as np

# The legacy tree names variables as TF1 code did; Keras names them by role.
_ROLE_ALIASES = {"weights": "kernel", "biases": "bias"}


class TransferError(ValueError):
    """Two weight lists that cannot be zipped together; the message names the first mismatch."""


def layer_and_role(name: str):
    """'conv1/weights:0' -> ('conv1', 'kernel'); 'fc1/bias' -> ('fc1', 'bias')."""
    name = name.split(":")[0]
    layer, _, role = name.rpartition("/")
    return layer, _ROLE_ALIASES.get(role, role)


def same_layer_and_role(a: str, b: str):
    """True when both name the same role and one layer path ends with the other
    ('fc' matches Keras' 'sequential/fc'; 'conv1' does not match 'block1/conv2')."""
    (layer_a, role_a), (layer_b, role_b) = layer_and_role(a), layer_and_role(b)
    parts_a, parts_b = layer_a.split("/"), layer_b.split("/")
    n = min(len(parts_a), len(parts_b))
    return role_a == role_b and parts_a[len(parts_a) - n:] == parts_b[len(parts_b) - n:]


def check_compatible(src_names, src_shapes, dst_names, dst_shapes, match_names=True):
    """Raises TransferError at the first pair whose shape (or layer and role) differs."""
    for i, (sn, ss, dn, ds) in enumerate(zip(src_names, src_shapes, dst_names, dst_shapes)):
        if tuple(ss) != tuple(ds):
            raise TransferError(f"weight {i}: {sn} has shape {tuple(ss)} but {dn} has shape {tuple(ds)}")
        if match_names and not same_layer_and_role(sn, dn):
            raise TransferError(f"weight {i}: {sn} would be copied into {dn}; the canonical orders differ")
    if len(src_names) != len(dst_names):
        longer, names = ("source", src_names) if len(src_names) > len(dst_names) else ("destination", dst_names)
        extra = names[min(len(src_names), len(dst_names))]
        raise TransferError(f"the source has {len(src_names)} weights and the destination {len(dst_names)}; "
                            f"the first without a partner is {extra} in the {longer}")


def transfer(src, dst, match_names=True):
    """Copies every weight of runner `src` into runner `dst`, in canonical order."""
    check_compatible(src.names, src.shapes, dst.names, dst.shapes, match_names)
    dst.set_weights(src.get_weights())


def read_checkpoint(path, names, shapes):
    """Reads the model's variables from a TF1 Saver checkpoint, checking every shape: by name, or,
    where the names differ (a script's `Variable`, `Variable_1`, ... against a model's scoped
    names), in creation order, read from the `.meta` beside the checkpoint or from the numbers TF1
    puts in its default names.

    Keras 3's `load_weights` reads only `.weights.h5`; a TF1 checkpoint is read variable by
    variable with `tf.train.load_checkpoint` (pitfall `keras3-weights-format`).
    """
    import tensorflow as tf

    prefix = checkpoint_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError, RuntimeError) as e:
        raise TransferError(f"{path}: not a readable TensorFlow checkpoint ({_first_line(e)})") from None
    stored = reader.get_variable_to_shape_map()
    keys = [name.split(":")[0] for name in names]
    if not any(key in stored for key in keys):
        keys = _in_creation_order(path, prefix, stored, keys, shapes)
    values = []
    for key, shape in zip(keys, shapes):
        if key not in stored:
            model_keys = sorted(k for k in stored if not _is_optimizer_slot(k))
            raise TransferError(f"{path}: no variable {key!r}; the checkpoint holds {', '.join(model_keys)}. "
                                "Was it saved from this model?")
        if tuple(stored[key]) != tuple(shape):
            raise TransferError(f"{path}: {key} has shape {tuple(stored[key])}, the model expects {tuple(shape)}")
        try:
            values.append(np.asarray(reader.get_tensor(key)))
        except Exception as e:  # noqa: BLE001  TF's reader maps its status codes to assorted Python types
            # A truncated or bit-flipped .data file: "Read less bytes" (an IndexError), "Checksum does not match".
            raise TransferError(f"{prefix}: variable {key} cannot be read, the checkpoint's data file is damaged "
                                f"({_first_line(e)}); save the checkpoint again or use another copy") from None
    return values


_DEFAULT_NAME = re.compile(r"^(?:(.*)/)?Variable(?:_(\d+))?$")


def _in_creation_order(path, prefix, stored, keys, shapes):
    """The checkpoint's model variables in creation order, paired with `keys` by position and checked
    by shape; TransferError listing both sides where they cannot be paired."""
    model_keys = [k for k in stored if not _is_optimizer_slot(k)]
    meta = Path(f"{prefix}.meta")
    if meta.is_file():
        order = [k for k in _meta_variable_order(meta) if k in model_keys]
        how = f"in the creation order {meta.name} records"
    elif model_keys and all(_DEFAULT_NAME.match(k) for k in model_keys):
        def number(k):
            scope, n = _DEFAULT_NAME.match(k).groups()
            return scope or "", int(n or 0)
        order = sorted(model_keys, key=number)
        how = "in creation order (the numbers of TF1's default names)"
    else:
        raise TransferError(f"{path}: no variable {keys[0]!r}; the checkpoint holds {', '.join(sorted(model_keys))}, "
                            "and without a .meta beside it their creation order is unknown. Was it saved from this "
                            "model? Give a map file (--map) to pair them")
    pairs = list(zip(order, shapes))
    if len(order) != len(keys) or any(tuple(stored[k]) != tuple(s) for k, s in pairs):
        rows = "; ".join(f"{k} {tuple(stored[k])} | {n} {tuple(s)}" for k, (n, s) in zip(order, zip(keys, shapes)))
        raise TransferError(f"{path}: its {len(order)} variables, taken {how}, do not fit the model's {len(keys)}: "
                            f"checkpoint | model: {rows}")
    return order


def _meta_variable_order(meta):
    """The names of the variables a .meta graph records, in creation order."""
    from tensorflow.core.framework import variable_pb2
    from tensorflow.core.protobuf import meta_graph_pb2

    graph = meta_graph_pb2.MetaGraphDef()
    try:
        graph.ParseFromString(meta.read_bytes())
    except Exception as e:  # noqa: BLE001  protobuf's DecodeError
        raise TransferError(f"{meta}: not a readable MetaGraphDef ({type(e).__name__})") from None
    names = []
    for raw in graph.collection_def["variables"].bytes_list.value:
        variable = variable_pb2.VariableDef()
        variable.ParseFromString(raw)
        names.append(variable.variable_name.split(":")[0])
    return names


def checkpoint_prefix(path):
    """The checkpoint prefix `path` names (a prefix, its .index / .data-* / .meta file, or a folder
    with a `checkpoint` index file); raises TransferError when there is none."""
    path = Path(path)
    if path.is_dir():
        from parity.runtime import import_tensorflow

        latest = import_tensorflow().train.latest_checkpoint(str(path))
        if latest is None:
            raise TransferError(f"{path}: folder holds no TensorFlow checkpoint (no 'checkpoint' index file)")
        return latest
    if ".data-" in path.name:
        path = path.with_name(path.name.split(".data-")[0])
    elif path.suffix in (".index", ".meta"):
        path = path.with_suffix("")
    if not Path(f"{path}.index").exists():
        raise TransferError(f"{path}: no checkpoint there (expected {path}.index beside its data files)")
    return str(path)


def _is_optimizer_slot(key):
    """An optimizer's slot or step counter, which a Saver stores beside the model's variables."""
    return key.endswith(("/Adam", "/Adam_1", "/Momentum", "/RMSProp", "/RMSProp_1", "/Adagrad")) \
        or key.split("/")[-1] in ("beta1_power", "beta2_power", "global_step")


def _first_line(error):
    return str(getattr(error, "message", error)).strip().splitlines()[0]
