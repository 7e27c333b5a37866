"""TEDPolicy's predictions, remembered by the dialogue state they were made from.

A py-spy profile of the Rasa process under load put TED's inference at about a third of a
turn: it runs for every action Rasa predicts (two to four a turn), through TensorFlow, even
where the same few turns of state were predicted a moment ago for another customer. Trained
on stories without user text (Rapport's are), TED's prediction is a function of the states
its featurizer keeps (the last `max_history` turns of intent, entity names, slots, the
previous action and the active loop; `Policy._prediction_states`): equal states give an
equal prediction. `install()` makes `TEDPolicy.predict_action_probabilities` look the states
up first (an LRU of `CACHE_SIZE` per loaded policy, so a retrained model starts empty) and run
the model only for states it has not seen. A policy trained end-to-end (on user text) is
never cached: its prediction reads the text.
"""

from __future__ import annotations

import copy
import json
import threading
import weakref
from collections import OrderedDict
from typing import Any, Optional

from rasa.shared.nlu.constants import TEXT

CACHE_SIZE = 4096  # distinct dialogue states remembered per policy


class PredictionCache:
    """A bounded map from a state key to the prediction made for it (least recent evicted)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.hits = self.misses = 0
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[Any]:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: str, prediction: Any) -> None:
        with self._lock:
            self._entries[key] = prediction
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


_caches: "weakref.WeakKeyDictionary[Any, PredictionCache]" = weakref.WeakKeyDictionary()


def cache_of(policy: Any) -> PredictionCache:
    cache = _caches.get(policy)
    if cache is None:
        cache = _caches[policy] = PredictionCache()
    return cache


def state_key(states: list[dict]) -> str:
    """The states as one string: equal states, equal keys."""
    return json.dumps(states, sort_keys=True, default=_sorted)


def _sorted(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"a dialogue state holds a {type(value).__name__}")


def reads_text(policy: Any) -> bool:
    """True for a policy trained on user text: its prediction depends on more than states."""
    return bool(policy.only_e2e) or TEXT in (policy.fake_features or {})


def fresh(prediction: Any) -> Any:
    """A copy the ensemble may change (it zeroes a rejected action's probability in place)."""
    copied = copy.copy(prediction)
    copied.probabilities = list(prediction.probabilities)
    copied.events = list(prediction.events)
    if prediction.optional_events is not None:
        copied.optional_events = list(prediction.optional_events)
    return copied


def install() -> None:
    """Look TED's predictions up by dialogue state before running the model (idempotent)."""
    from rasa.core.policies.ted_policy import TEDPolicy

    current = TEDPolicy.predict_action_probabilities
    if getattr(current, "__wrapped__", None) is not None:
        return
    original = current

    def predict_action_probabilities(self: Any, tracker: Any, domain: Any,
                                     rule_only_data: Optional[dict] = None,
                                     precomputations: Any = None, **kwargs: Any) -> Any:
        def run() -> Any:
            return original(self, tracker, domain, rule_only_data=rule_only_data,
                            precomputations=precomputations, **kwargs)

        if self.model is None or reads_text(self):
            return run()
        key = state_key(self._prediction_states(tracker, domain,
                                                rule_only_data=rule_only_data))
        cache = cache_of(self)
        known = cache.get(key)
        if known is None:
            known = run()
            cache.put(key, known)
        return fresh(known)

    predict_action_probabilities.__wrapped__ = original  # type: ignore[attr-defined]
    TEDPolicy.predict_action_probabilities = predict_action_probabilities
