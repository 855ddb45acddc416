"""`tf-parity convert`: a TF1 Saver checkpoint into the Keras port's `.weights.h5`, which plain
`model.load_weights` reads.

With a registered model or a user's pair (either route), both sides are built, the checkpoint read
into the legacy graph, its weights copied across (parity.mapping for a pair), and the outputs of
both compared on a batch before anything is written. With only a Keras model and a map file, the
variables the map names are read from the checkpoint straight into the Keras weights; there is no
graph to compare the outputs with, and the report says so.
"""
import dataclasses

import numpy as np

from parity import transfer


def checkpoint_to_keras(spec, checkpoint, out, num_images=64, seed=0):
    """Reads every legacy variable from `checkpoint` (names and shapes checked), copies them into the
    Keras model, verifies both give the same outputs, and saves `out`."""
    from parity import pair, tolerances

    if spec.pair_legacy is not None:
        spec = dataclasses.replace(spec, pair_legacy=dataclasses.replace(spec.pair_legacy, checkpoint=checkpoint))
        spec, legacy, eager = pair.build_runners(spec, seed)
    else:
        spec, legacy, eager = pair.build_runners(spec, seed)
        try:
            legacy.set_weights(transfer.read_checkpoint(checkpoint, legacy.names, legacy.shapes))
        except BaseException:
            legacy.close()
            raise
    try:
        transfer.transfer(legacy, eager, match_names=spec.pair_legacy is None)
        shape = tuple(d or 1 for d in spec.input_shape)
        x = np.random.default_rng(seed).uniform(0, 1, (num_images, *shape)).astype(np.float32)
        diff = float(np.max(np.abs(legacy.forward(x).astype(np.float64) - eager.forward(x))))
        variables = len(legacy.names)
    finally:
        legacy.close()
    tol = tolerances.for_spec(spec).forward_atol.value
    if not diff <= tol:
        raise transfer.TransferError(f"after the copy the two models' outputs part by {diff:.3g} > {tol:g}; "
                                     "run tf-parity parity to find the layer")
    eager.save(out)
    return {"variables": variables, "images": num_images, "max_abs_diff": diff}


def with_map_only(eager_source, checkpoint, out, seed=0):
    """The variables `eager_source.map` names, read from `checkpoint` into the Keras model it builds,
    every Keras weight accounted for; returns {"variables": count}."""
    import keras

    from parity import mapping
    from parity.legacy import LegacyError, load_function

    keras.utils.set_random_seed(seed)
    model = load_function(eager_source.model, "--eager", eager_source.search_path)()
    if not isinstance(model, keras.Model):
        raise LegacyError(f"--eager {eager_source.model} returned a {type(model).__name__}, expected a keras.Model")
    entries = mapping.read_map(eager_source.map)
    paths = {w.path: w for w in model.weights}
    unmapped = [p for p in paths if p not in {target for target, _ in entries.values()}]
    if unmapped:
        raise mapping.MappingError(f"--map {eager_source.map} leaves Keras weights {', '.join(unmapped)} without a "
                                   "legacy variable; without the legacy graph every weight must be named")
    names = list(entries)
    shapes = [_legacy_shape(paths[target], axes) for target, axes in entries.values()]
    values = transfer.read_checkpoint(checkpoint, names, shapes)
    for (target, axes), value in zip(entries.values(), values):
        paths[target].assign(np.transpose(value, axes) if axes else value)
    from parity.runners import KerasRunner

    KerasRunner.save_model(model, out)
    return {"variables": len(values)}


def _legacy_shape(weight, axes):
    shape = tuple(weight.shape)
    return shape if not axes else tuple(shape[i] for i in np.argsort(axes))
