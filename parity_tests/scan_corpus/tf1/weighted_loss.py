import tensorflow as tf


def masked_loss(labels, logits, mask):
    return tf.losses.softmax_cross_entropy(onehot_labels=labels, logits=logits, weights=mask)  # expect: loss-reduction
