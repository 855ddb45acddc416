from tensorflow import keras


class LossHistory(keras.callbacks.Callback):
    def on_train_begin(self, logs={}):
        self.losses = []

    def on_batch_end(self, batch, logs={}):
        self.losses.append(logs.get("loss"))  # expect: fit-logs-running-mean


class StepLoss(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(batch, logs["loss"])  # expect: fit-logs-running-mean
