"""Loading a trained model in seconds: Rasa's TensorFlow models without a training step.

Rasa 3.6 loads each TensorFlow model (TEDPolicy, DIET, the ResponseSelector) by compiling it
and fitting it for one step on an example, only so that its variables exist before the saved
weights are read; tracing that training step is most of the 50 s a model took to load here,
and the trained optimizer it builds is never used when serving. `install()` (called as the
Rasa server starts) loads for inference instead: the saved weights are restored as the
inference pass on Rasa's own prediction example creates the variables (TensorFlow's
restore-on-create), and the training-only values in the checkpoint are left unread.

Predictions are the same to the last digit (tests/bot/ops/test_model_loading.py compares
intents, confidences, FAQ answers and next actions with Rasa's own loading). Fine-tuning, and
a model saved without a prediction example, still load Rasa's way.
"""

from __future__ import annotations

from typing import Any, Optional


def install() -> None:
    """Make `RasaModel.load` load for inference (idempotent)."""
    from rasa.utils.tensorflow.models import RasaModel

    current = RasaModel.__dict__["load"]
    if getattr(current.__func__, "rapport_inference_load", False):
        return
    rasa_load = current.__func__

    def load(cls: Any, model_file_name: str, model_data_example: Any,
             predict_data_example: Optional[Any] = None, finetune_mode: bool = False,
             *args: Any, **kwargs: Any) -> Any:
        if finetune_mode or predict_data_example is None:
            return rasa_load(cls, model_file_name, model_data_example, predict_data_example,
                             finetune_mode, *args, **kwargs)
        model = cls(*args, **kwargs)
        restored = model.load_weights(model_file_name)  # values wait for their variables
        model.run_inference(predict_data_example)  # makes the variables: they take the values
        restored.expect_partial()  # the optimizer's slots are for training only
        return model

    load.rapport_inference_load = True  # type: ignore[attr-defined]
    load.rasa_load = rasa_load  # type: ignore[attr-defined]
    RasaModel.load = classmethod(load)


def uninstall() -> None:
    """Rasa's own loading again (tests compare the two)."""
    from rasa.utils.tensorflow.models import RasaModel

    current = RasaModel.__dict__["load"].__func__
    if getattr(current, "rapport_inference_load", False):
        RasaModel.load = classmethod(current.rasa_load)
