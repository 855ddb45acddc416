from tensorflow.keras import layers


def downsample(x, filters):
    # A port of a stride-2 'SAME' conv through explicit padding, as frameworks that pad both sides do.
    x = layers.ZeroPadding2D(padding=1)(x)  # expect: same-padding-asymmetric
    return layers.Conv2D(filters, 3, strides=2, padding="valid")(x)
