from tensorflow.keras.optimizers import Adam, RMSprop

optimizer = Adam(1e-4)  # expect: adam-epsilon
rms = RMSprop(learning_rate=1e-3)  # expect: adam-epsilon
