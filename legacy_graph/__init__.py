"""The source documents' models in the TF1 graph idiom, through tf.compat.v1.

This tree is the code being migrated: it keeps the documents' style on purpose
(explicit tf.Graph, placeholders, Session.run, raw tf.nn ops, Saver checkpoints).
"""
