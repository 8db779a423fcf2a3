"""Taking results out of ganbench: a trained generator (``model.py``: safetensors, ONNX, a model card from
``card.py``) and stored runs replayed into TensorBoard (``ganbench.track.replay``)."""
