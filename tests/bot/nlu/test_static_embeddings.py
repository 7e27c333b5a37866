"""WordLlama's token embeddings as the classifier reads them: fetched, checked, meaningful.

Uses the files `scripts/setup.sh` fetched (RAPPORT_STATIC_EMBEDDINGS_DIR); the fetch itself is
exercised on a damaged copy, so a test never depends on a download that already happened.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.static_embeddings import (
    TABLE_FILE, TOKENIZER_FILE, MeanTokenEmbedding, StaticEmbeddingsError, fetch, is_fetched,
)
from bot.settings import Settings


@pytest.fixture(scope="module")
def fetched() -> Path:
    directory = Settings.from_env().static_embeddings_dir
    return fetch(directory)  # a no-op after setup: the files are there and check out


@pytest.fixture(scope="module")
def embed(fetched: Path) -> MeanTokenEmbedding:
    return MeanTokenEmbedding.from_directory(fetched)


def cosine(embed: MeanTokenEmbedding, a: str, b: str) -> float:
    first, second = embed([a, b])
    return float(first @ second)


def test_words_land_near_their_meaning(embed: MeanTokenEmbedding) -> None:
    """Why the classifier has them: words no training example used still point somewhere."""
    assert cosine(embed, "goodbye", "farewell") > cosine(embed, "goodbye", "refund my order")
    assert (cosine(embed, "speak to a colleague", "talk to a person")
            > cosine(embed, "speak to a colleague", "the lamp is broken"))


def test_vectors_are_unit_length_and_empty_text_is_zero(embed: MeanTokenEmbedding) -> None:
    vectors = embed(["where is my parcel", "", "😀", "x" * 5000])
    assert vectors.shape == (4, 256) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors[[0, 2, 3]], axis=1) == pytest.approx(1.0, abs=1e-5)
    assert not vectors[1].any()


def test_missing_files_name_the_command_that_fetches_them(tmp_path: Path) -> None:
    with pytest.raises(StaticEmbeddingsError, match="rapport nlp build"):
        MeanTokenEmbedding.from_directory(tmp_path / "nowhere")


def test_a_damaged_file_is_detected_and_fetched_again(fetched: Path, tmp_path: Path) -> None:
    copy = tmp_path / "wordllama"
    shutil.copytree(fetched, copy)
    (copy / TOKENIZER_FILE).write_text("{}", encoding="utf-8")
    assert not is_fetched(copy)
    with pytest.raises(StaticEmbeddingsError):
        MeanTokenEmbedding.from_directory(copy)
    fetch(copy)  # pip download of the pinned wheel, checked by sha256
    assert is_fetched(copy)
    assert sorted(p.name for p in copy.iterdir()) == sorted([TABLE_FILE, TOKENIZER_FILE])
