"""Keras 3's Adam with TensorFlow's fused update kernel, the one tf.compat.v1.train.AdamOptimizer runs,
on the TensorFlow backend; Keras' own Adam, with the same settings, on the others."""
import keras


def _handle(variable):
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


@keras.saving.register_keras_serializable(package="tf_parity")
class FusedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam, each variable updated by one ResourceApplyAdam op.

    Keras 3 writes Adam's update as about twenty elementwise ops per variable (casts, powers, two
    moment updates, the step); TF1's AdamOptimizer ran a single fused kernel. The algebra is the
    same (lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)), and so are the
    settings, slots and checkpoints; a small model's step runs several hundred fewer ops
    (pitfall `keras-adam-unfused`). AMSGrad and sparse gradients take Keras' own update.
    """

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf

        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(self._momentums[index]), v=_handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype), use_locking=False)


def adam(learning_rate, epsilon, fused=True):
    """The recipe's Adam, the one optimizer factory of the Keras models (the harness passes each
    model's registered learning rate and epsilon; TF1's AdamOptimizer has epsilon 1e-8 where Keras
    defaults to 1e-7, pitfall `adam-epsilon`): FusedAdam, or with `fused=False` (or on a backend other
    than TensorFlow, where the TensorFlow kernel cannot run) keras.optimizers.Adam itself."""
    fused = fused and keras.backend.backend() == "tensorflow"
    return (FusedAdam if fused else keras.optimizers.Adam)(learning_rate=learning_rate, epsilon=epsilon)
