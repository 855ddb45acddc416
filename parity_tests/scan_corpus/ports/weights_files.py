from tensorflow import keras


def save(model):
    model.save_weights("./checkpoints/my_checkpoint")  # expect: keras3-weights-format
    model.save("saved_model/my_model")  # expect: keras3-weights-format


def restore(model):
    model.load_weights("model.ckpt")  # expect: keras3-weights-format
