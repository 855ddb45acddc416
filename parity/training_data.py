"""The data both styles train and test on: a data set loaded, fitted to the model's input, and
served as the model's recipe asks (one-hot or sparse labels, or the images themselves)."""
from dataclasses import dataclass

import numpy as np

from parity import datasets
from parity.datasets import adapt


@dataclass
class TrainingData:
    """What both styles train and test on, in the form the model's recipe asks for."""
    dataset: datasets.Dataset
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray       # integer classes
    labels: str              # "one_hot", "sparse", or "images" (an autoencoder's targets are its inputs)
    num_classes: int         # the model's outputs (a stand-in may use fewer classes)

    def targets(self, x, y):
        """What the model trains against for images `x` of classes `y`."""
        if self.labels == "images":
            return x
        if self.labels == "one_hot":
            return np.eye(self.num_classes, dtype=np.float32)[y]
        return y

    def digest(self):
        """A short SHA-256 of the training images and labels, computed once."""
        if getattr(self, "_digest", None) is None:
            import hashlib

            h = hashlib.sha256()
            for a in (self.x_train, self.y_train):
                h.update(f"{a.dtype.str}{a.shape}".encode())
                h.update(np.ascontiguousarray(a).tobytes())
            self._digest = h.hexdigest()[:16]
        return self._digest

    def check_batch_size(self, batch_size):
        """DataError before any training where a batch would be larger than the training set: the
        stream would repeat images inside one batch, and the report would state a size never used."""
        if batch_size > len(self.x_train):
            raise datasets.DataError(
                f"--batch-size {batch_size} is larger than the {len(self.x_train):,} training images of "
                f"{self.dataset.name}: give at most {len(self.x_train)}")

    def batch_at(self, k, batch_size):
        """The k-th slice of `batch_size` training images, in file order, and its targets."""
        x = self.x_train[k * batch_size:(k + 1) * batch_size]
        return x, self.targets(x, self.y_train[k * batch_size:(k + 1) * batch_size])

    def batches(self, batch_size, seed):
        """An endless stream of training batches; the same seed gives the same stream."""
        from legacy_graph.input_data import DataSet

        data = DataSet(self.x_train, np.arange(len(self.x_train)), reshape=False, seed=seed)
        while True:
            x, index = data.next_batch(batch_size)
            yield x, self.targets(x, self.y_train[index])


def prepare_data(spec, dataset_name="auto", data_dir=None):
    """Loads the model's data (`auto`: the first of spec.data that is present; a path ending in
    .npz: a user's own arrays), fits a stand-in to the model's input, and holds out the validation
    images as input_data did (5,000 of MNIST)."""
    if str(dataset_name).endswith(".npz"):
        data = datasets.load_arrays(dataset_name)
    else:
        name = datasets.resolve(dataset_name, data_dir, spec.data)
        data = datasets.DATASETS[name].load(data_dir, explicit=dataset_name != "auto",
                                            image_size=tuple(spec.input_shape[:2]) if len(spec.input_shape) == 3
                                            else None)
    data = adapt.fit_to_model(data, image_shape(spec, data), spec.num_classes or data.num_classes,
                              resize=spec.resize_proxy)
    validation = min(5000, len(data.x_train) // 10)
    return TrainingData(data, data.x_train[validation:], data.y_train[validation:], data.x_test, data.y_test,
                        spec.recipe.labels, spec.num_classes)


def image_shape(spec, data):
    """The image shape data is fitted to: the model's input, or where the model takes flat vectors
    ([None, 784]) the data's own images when they hold as many values (the runners reshape)."""
    shape = tuple(spec.input_shape)
    if len(shape) == 3:
        return shape
    if int(np.prod(shape)) == int(np.prod(data.image_shape)):
        return tuple(data.image_shape)
    raise datasets.DataError(f"the model takes inputs of shape {shape} ({int(np.prod(shape))} values), {data.name}'s "
                             f"images are {'x'.join(map(str, data.image_shape))}: give data whose images hold as "
                             "many values (--dataset FILE.npz)")
