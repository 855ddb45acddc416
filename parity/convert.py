"""`tf-parity convert`: a TF1 Saver checkpoint of a legacy model into its Keras twin's .weights.h5."""
import numpy as np

from parity import transfer


def checkpoint_to_keras(spec, checkpoint, out, num_images=8, seed=0):
    """Reads every legacy variable from `checkpoint` (names and shapes checked), copies them into the
    Keras model in canonical order, verifies both give the same outputs, and saves `out`."""
    from parity import tolerances
    from parity.runners import GraphRunner, KerasRunner

    legacy = GraphRunner.from_spec(spec, seed=seed)
    try:
        values = transfer.read_checkpoint(checkpoint, legacy.names, legacy.shapes)
        legacy.set_weights(values)
        eager = KerasRunner.from_spec(spec, seed=seed)
        transfer.transfer(legacy, eager)
        x = np.random.default_rng(seed).uniform(0, 1, (num_images, *spec.input_shape)).astype(np.float32)
        diff = float(np.max(np.abs(legacy.forward(x) - eager.forward(x))))
    finally:
        legacy.close()
    tol = tolerances.for_model(spec.name).forward_atol.value
    if diff > tol:
        raise transfer.TransferError(f"after the copy the two models' outputs part by {diff:.3g} > {tol:g}; "
                                     "run tf-parity parity to find the layer")
    eager.save(out)
    return {"variables": len(values), "images": num_images, "max_abs_diff": diff}
