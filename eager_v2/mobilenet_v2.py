"""Seed 003's MobileNetV2 in Keras 3, as the document used it: the stock application with
random weights and 5 classes, trained on tf_flowers (224x224, /255, batch 32) by a GradientTape
loop with Adam(1e-3) on the summed sparse categorical cross-entropy of the softmax output,
printing the loss every step.

Port notes: `tf.keras` is Keras 3 here, so the application is `keras.applications.MobileNetV2`
(its layers, names and weights are those of the TF 2 one; its batch norm uses momentum 0.999
and epsilon 1e-3, not the layer defaults). The input is 64x64 by default, which leaves the
parameter count unchanged. Adam gets the TF1 optimizer's epsilon (pitfall `adam-epsilon`);
the loss is the batch mean unless the document's sum is asked for (pitfall `loss-sum-vs-mean`).
Keras 3 attaches the pre-softmax logits to the model's softmax output and its from_logits=False
loss reads them, so the loss of the model's own output is never clipped.
"""
import keras

image_shape = (64, 64, 3)
num_classes = 5
pool_name = "global_average_pooling2d"
REDUCTIONS = {"mean": "sum_over_batch_size", "sum": "sum"}


def build_model(num_classes=num_classes, image_shape=image_shape):
    """The document's `MobileNetV2(weights=None, classes=...)`, at `image_shape`."""
    model = keras.applications.MobileNetV2(weights=None, classes=num_classes, input_shape=tuple(image_shape))
    # The pooling layer is the application's only unnamed one: Keras calls it
    # global_average_pooling2d_N after N earlier ones in the process. Its first name is given
    # back so that every build has the same layer names as the legacy graph's endpoints.
    pool = next(layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D))
    pool.name = pool_name
    return model


def make_loss(reduction="mean"):
    """Sparse categorical cross-entropy on the softmax output, batch mean or sum.

    The document sums (`tf.reduce_sum`), which scales every gradient by the batch size; the
    legacy recipe and the parity checks use the mean (pitfall `loss-sum-vs-mean`).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; choose one of {', '.join(REDUCTIONS)}")
    return keras.losses.SparseCategoricalCrossentropy(from_logits=False, reduction=REDUCTIONS[reduction])

