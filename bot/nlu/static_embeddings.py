"""WordLlama's static token embeddings: a dense sentence vector beside the TF-IDF n-grams.

Why: n-grams only know words seen in training; a customer's "cheerio" or "get a colleague"
shares no n-gram with "bye" or "a person". The mean of WordLlama's 256-d token vectors
(distilled from a large language model's token embeddings, MIT licence) places such words near
their meaning. Measured on BANKING77 and the bot's own data (benchmarks/nlu_banking77.py,
benchmarks/nlu_crossval.py), it lifts accuracy by 0.5-3 points at a few milliseconds a message.

WordLlama's own package wants numpy 2 and pydantic 2, which Rasa 3.6 cannot have, so only two
files are taken from its pinned wheel (checked by sha256): the tokenizer (read with
`tokenizers`) and the embedding table (read with `safetensors`). `rapport nlp build` fetches
them once into `Settings.static_embeddings_dir` (training fetches them too if they are missing);
a trained model keeps its own copy, so loading a model needs neither that directory nor pip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Sequence

import numpy as np

from bot.errors import RapportError

WORDLLAMA_VERSION = "0.4.0.post1"
WHEEL = (f"wordllama-{WORDLLAMA_VERSION}-cp310-cp310-manylinux2014_x86_64."
         "manylinux_2_17_x86_64.whl")
WHEEL_SHA256 = "684abaaedeecfc841658715e119e8b222b9a39eccf74b0f747f50e7976a22280"
# member of the wheel -> (file name here, sha256)
TOKENIZER_FILE = "l2_supercat_tokenizer_config.json"
TABLE_FILE = "l2_supercat_256.safetensors"
_MEMBERS: Dict[str, tuple] = {
    "wordllama/tokenizers/l2_supercat_tokenizer_config.json":
        (TOKENIZER_FILE, "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68"),
    "wordllama/weights/l2_supercat_256.safetensors":
        (TABLE_FILE, "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5"),
}


PIP_TIMEOUT_S = 600


class StaticEmbeddingsError(RapportError, RuntimeError):
    """The embedding files are missing, damaged or could not be fetched; says what to run."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    """A uniquely named temporary file renamed into place: two fetches at once never clash."""
    handle, staged = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(staged, path)
    finally:
        if os.path.exists(staged):
            os.unlink(staged)


def is_fetched(directory: Path) -> bool:
    """True when both files are in `directory` with their pinned checksums."""
    return all((directory / name).is_file() and _sha256(directory / name) == sha
               for name, sha in _MEMBERS.values())


def fetch(directory: Path) -> Path:
    """Put the tokenizer and table into `directory` from the pinned wheel (pip, no deps)."""
    if is_fetched(directory):
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wordllama-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-input",
                   "--disable-pip-version-check", "--no-deps", "--only-binary=:all:",
                   "--platform", "manylinux2014_x86_64", "--python-version", "3.10",
                   "--implementation", "cp", "--dest", tmp, f"wordllama=={WORDLLAMA_VERSION}"]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise StaticEmbeddingsError(
                f"pip did not download wordllama=={WORDLLAMA_VERSION} within {PIP_TIMEOUT_S} s")
        wheel = Path(tmp) / WHEEL
        if done.returncode != 0 or not wheel.is_file():
            said = (done.stderr or done.stdout).strip()[-300:] or f"no {WHEEL} was saved"
            raise StaticEmbeddingsError(
                f"could not download wordllama=={WORDLLAMA_VERSION} with pip: {said}")
        if _sha256(wheel) != WHEEL_SHA256:
            raise StaticEmbeddingsError(f"{WHEEL}: sha256 differs from the pinned one")
        with zipfile.ZipFile(wheel) as archive:
            for member, (name, sha) in _MEMBERS.items():
                data = archive.read(member)
                if hashlib.sha256(data).hexdigest() != sha:
                    raise StaticEmbeddingsError(f"{member}: sha256 differs from the pinned one")
                _write_atomically(directory / name, data)
    return directory


class MeanTokenEmbedding:
    """The L2-normalised mean of a text's token vectors (WordLlama's own pooling)."""

    def __init__(self, tokenizer_json: str, table: np.ndarray) -> None:
        from tokenizers import Tokenizer

        self.tokenizer_json = tokenizer_json
        self.table = np.asarray(table, dtype=np.float16)  # as stored: 16 MB
        self._tokenizer = Tokenizer.from_str(tokenizer_json)

    @classmethod
    def from_directory(cls, directory: Path) -> "MeanTokenEmbedding":
        """Read the fetched files; a clear error names the command that fetches them."""
        from safetensors.numpy import load_file

        if not is_fetched(directory):
            raise StaticEmbeddingsError(
                f"WordLlama embeddings are missing or damaged in {directory}: "
                "run `rapport nlp build` (scripts/setup.sh does) to fetch them")
        table = load_file(str(directory / TABLE_FILE))["embedding.weight"]
        return cls((directory / TOKENIZER_FILE).read_text(encoding="utf-8"), table)

    @property
    def dimensions(self) -> int:
        return int(self.table.shape[1])

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text; zeros for a text with no token at all."""
        encodings = self._tokenizer.encode_batch([t or "" for t in texts],
                                                 add_special_tokens=False)
        vectors = np.zeros((len(texts), self.dimensions), np.float32)
        for row, encoding in enumerate(encodings):
            if encoding.ids:
                vectors[row] = self.table[encoding.ids].astype(np.float32).mean(axis=0)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
