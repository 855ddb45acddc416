"""What every legacy builder returns: the handles a TF1 user would keep around."""
import collections

GraphModel = collections.namedtuple("GraphModel", [
    "graph",        # the tf.Graph everything was built in
    "inputs",       # image placeholder
    "labels",       # label placeholder: one-hot rows, or class indices (sparse)
    "training",     # bool placeholder (defaults to False), or None for models without batch norm
    "logits",       # the model's output: logits, or probabilities where the model ends in softmax
    "y_pred_cls",   # predicted class
    "loss",         # scalar training loss
    "train_op",     # one optimizer step (runs the batch-norm updates where there are any)
    "accuracy",     # fraction of the batch classified right
    "variables",    # model variables in canonical order (layer by layer, kernel then bias)
    "endpoints",    # OrderedDict of named intermediate outputs, input to logits
    "gradients",    # the gradients the train op applies, one per trainable variable; None: not exposed
], defaults=(None,))

ENDPOINTS = "tf_parity_endpoints"


def add_endpoint(graph, name, tensor):
    """Records a named intermediate output so the parity report can find where styles part."""
    graph.add_to_collection(ENDPOINTS, (name, tensor))
    return tensor


def endpoints(graph):
    return collections.OrderedDict(graph.get_collection(ENDPOINTS))
