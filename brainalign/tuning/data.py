"""Training data for causal-LM tuning: (prompt, target) records -> padded token batches.

The contract shared with task preparation (:func:`brainalign.tasks.text.read_split`):
the training text is ``prompt + " " + target + eos`` and the loss covers the target
tokens and the eos only, never the prompt. Prompt and target are tokenised separately
and concatenated, so the boundary between them is exact; this is also what the model
sees at evaluation, where the prompt's tokens are fed and the continuation generated.

Batches are dicts of ``input_ids``, ``attention_mask`` and ``labels`` (long tensors of
shape (batch, width)), right-padded; ``labels`` is ``-100`` at prompt and padding
positions (the value Hugging Face losses ignore). The order of examples depends only on
the seed, so two methods trained with the same seed see the same data in the same order.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from brainalign.errors import ConfigError, DataError
from brainalign.models.language import context_length

logger = logging.getLogger(__name__)

#: Label value ignored by the loss (``torch.nn.CrossEntropyLoss``'s default ``ignore_index``).
IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenizedExample:
    """One training example as token ids.

    Attributes
    ----------
    id : str
        The record's id.
    input_ids : tuple[int, ...], length n_tokens
        Prompt tokens, then target tokens, then eos.
    labels : tuple[int, ...], length n_tokens
        ``IGNORE_INDEX`` at prompt positions, the token id elsewhere.
    truncated : bool
        Whether prompt tokens were dropped from the left to fit ``max_length``.
    """

    id: str
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    truncated: bool = False


def max_training_length(model: Any, num_virtual_tokens: int = 0) -> int:
    """Longest token sequence one example may have: the context minus the virtual tokens.

    Parameters
    ----------
    model : transformers.PreTrainedModel or peft.PeftModel
        Its config must give ``max_position_embeddings`` (``n_positions`` for GPT-2).
    num_virtual_tokens : int
        Soft-prompt length prepended by prompt tuning (0 for fine-tuning); they occupy
        positions of the same context.
    """
    n = context_length(model)
    if n is None:
        raise ConfigError(f"model config of {type(model).__name__} gives no context length (max_position_embeddings)")
    if n - num_virtual_tokens < 2:
        raise ConfigError(
            f"num_virtual_tokens={num_virtual_tokens} leaves {n - num_virtual_tokens} of the model's {n} positions "
            "for the text; use fewer virtual tokens"
        )
    return n - num_virtual_tokens


def tokenize_examples(
    records: Sequence[Mapping[str, str]], tokenizer: Any, *, max_length: int, split: str = "train"
) -> list[TokenizedExample]:
    """Tokenise ``{"id", "prompt", "target"}`` records for training.

    An example longer than ``max_length`` loses prompt tokens from the left (the start of
    the prompt, typically the oldest context), so the target and the end of the prompt
    survive; one WARNING counts them.

    Parameters
    ----------
    records : sequence of mapping
        As returned by :func:`brainalign.tasks.text.read_split`.
    tokenizer : transformers tokenizer
        Must have an eos token.
    max_length : int
        Tokens allowed per example (see :func:`max_training_length`).
    split : str
        Split name, used in messages.

    Returns
    -------
    list of TokenizedExample
        In the order of ``records``.

    Raises
    ------
    DataError
        No records; a record whose target (with eos) does not fit ``max_length`` with at
        least one prompt token before it (the first target token is predicted from the
        token before it, so a prompt token must remain).
    ConfigError
        The tokenizer has no eos token.
    """
    if not records:
        raise DataError(f"the {split} split has no examples; rerun the rule that prepares the task splits")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ConfigError("the tokenizer has no eos token; the training text must end with one")
    prompts = [str(r["prompt"]) for r in records]
    targets = [" " + str(r["target"]) for r in records]
    # add_special_tokens=False: the eos is appended by hand, and no tokenizer-specific
    # BOS/EOS may slip between prompt and target.
    prompt_ids = tokenizer(prompts, add_special_tokens=False, verbose=False)["input_ids"]
    target_ids = tokenizer(targets, add_special_tokens=False, verbose=False)["input_ids"]

    examples: list[TokenizedExample] = []
    longest = 0
    for record, p_ids, t_ids in zip(records, prompt_ids, target_ids):
        p_ids = [int(i) for i in p_ids]
        t_ids = [int(i) for i in t_ids] + [int(eos)]
        if len(t_ids) + 1 > max_length:
            raise DataError(
                f"example {record['id']!r} of the {split} split: its target is {len(t_ids)} tokens (with eos), which "
                f"leaves no room for a prompt token within the {max_length} tokens allowed; shorten the target or "
                "use a model with a longer context (or fewer virtual tokens)"
            )
        if not p_ids:
            raise DataError(f"example {record['id']!r} of the {split} split has a prompt with no tokens")
        truncated = len(p_ids) + len(t_ids) > max_length
        if truncated:
            longest = max(longest, len(p_ids) + len(t_ids))
            p_ids = p_ids[len(p_ids) + len(t_ids) - max_length :]
        examples.append(
            TokenizedExample(
                id=str(record["id"]),
                input_ids=tuple(p_ids + t_ids),
                labels=tuple([IGNORE_INDEX] * len(p_ids) + t_ids),
                truncated=truncated,
            )
        )
    n_truncated = sum(e.truncated for e in examples)
    if n_truncated:
        logger.warning(
            "%s split: %d of %d example(s) are longer than the %d tokens allowed (longest: %d); their prompts were "
            "truncated from the left so that the targets fit",
            split, n_truncated, len(examples), max_length, longest,
        )
    return examples


def collate(examples: Sequence[TokenizedExample], pad_id: int) -> dict[str, Any]:
    """Right-pad examples into one batch.

    Returns
    -------
    dict
        ``input_ids`` (pad_id at padding), ``attention_mask`` (1 = token), ``labels``
        (``IGNORE_INDEX`` at prompt and padding): long tensors of shape (batch, width),
        width = the longest example.
    """
    import torch

    if not examples:
        raise DataError("cannot build a batch from no examples")
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), int(pad_id), dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        input_ids[row, :n] = torch.tensor(e.input_ids, dtype=torch.long)
        attention_mask[row, :n] = 1
        labels[row, :n] = torch.tensor(e.labels, dtype=torch.long)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def check_batch_size(batch_size: int) -> None:
    """Raise a ConfigError unless ``batch_size`` is a positive integer."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")


def evaluation_batches(examples: Sequence[TokenizedExample], *, batch_size: int, pad_id: int) -> list[dict[str, Any]]:
    """Batches of ``examples`` in their given order, each example exactly once (validation)."""
    check_batch_size(batch_size)
    if not examples:
        raise DataError("no examples to batch (empty split)")
    return [collate(examples[i : i + batch_size], pad_id) for i in range(0, len(examples), batch_size)]


def epoch_order(n_examples: int, *, seed: int, epoch: int) -> list[int]:
    """Indices ``0 .. n_examples - 1`` in the order epoch ``epoch`` visits them.

    Drawn from ``random.Random`` seeded by the string ``"{seed}:{epoch}"`` (hashed
    deterministically, unlike a tuple), so every method trained with one seed sees the same
    examples in the same order.
    """
    order = list(range(n_examples))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order


def shuffled_index_batches(n_examples: int, *, batch_size: int, seed: int, drop_last: bool = True) -> Iterator[list[int]]:
    """Endless batches of example indices, epoch after epoch (:func:`epoch_order`).

    With ``drop_last`` each epoch's final incomplete batch is dropped (kept when it would be
    the only one), so every optimizer step weighs the same number of examples; the examples
    left over rotate with the shuffle.
    """
    check_batch_size(batch_size)
    epoch = 0
    while True:
        order = epoch_order(n_examples, seed=seed, epoch=epoch)
        stop = len(order)
        if drop_last and len(order) >= batch_size:
            stop = len(order) - len(order) % batch_size
        for start in range(0, stop, batch_size):
            yield order[start : start + batch_size]
        epoch += 1


class TrainingBatches:
    """An endless, reproducible stream of shuffled training batches.

    Epoch ``e`` visits every example once in an order drawn from ``random.Random`` seeded
    by ``(seed, e)``; iterating again starts again from epoch 0, so the stream is a pure
    function of the examples, the batch size and the seed. With ``drop_last`` (default)
    every batch has exactly ``batch_size`` examples, so every optimizer step weighs the
    same number of examples; the examples left over rotate with the shuffle.

    Parameters
    ----------
    examples : sequence of TokenizedExample
    batch_size : int
    pad_id : int
        Token id used for padding (GPT-2: eos).
    seed : int
    drop_last : bool
        Drop each epoch's final incomplete batch (kept when it would be the only one).
    """

    def __init__(
        self, examples: Sequence[TokenizedExample], *, batch_size: int, pad_id: int, seed: int, drop_last: bool = True
    ) -> None:
        check_batch_size(batch_size)
        if not examples:
            raise DataError("no training examples to batch (empty split)")
        self.examples = list(examples)
        self.batch_size = batch_size
        self.pad_id = int(pad_id)
        self.seed = int(seed)
        self.drop_last = drop_last

    def epoch_order(self, epoch: int) -> list[int]:
        """Indices of the examples in the order epoch ``epoch`` visits them."""
        return epoch_order(len(self.examples), seed=self.seed, epoch=epoch)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        batches = shuffled_index_batches(
            len(self.examples), batch_size=self.batch_size, seed=self.seed, drop_last=self.drop_last
        )
        for index in batches:
            yield collate([self.examples[i] for i in index], self.pad_id)


def language_model_blocks(texts: Sequence[str], tokenizer: Any, *, block_size: int) -> list[TokenizedExample]:
    """Cut a plain-text corpus into equal blocks for causal language modelling (pre-training).

    The texts are tokenised, each followed by eos, concatenated, and cut into consecutive
    blocks of ``block_size`` tokens (the last incomplete block is dropped); every token is
    a target.

    Parameters
    ----------
    texts : sequence of str
        Paragraphs, in corpus order.
    tokenizer : tokenizer
    block_size : int
        Tokens per block; at most the model's context.

    Returns
    -------
    list of TokenizedExample
        ``n_tokens // block_size`` blocks, ids ``block00000``, ...

    Raises
    ------
    DataError
        If the corpus is shorter than one block.
    """
    if block_size < 2:
        raise ConfigError(f"block_size must be at least 2, got {block_size}")
    stream: list[int] = []
    for text in texts:
        stream += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    n_blocks = len(stream) // block_size
    if n_blocks == 0:
        raise DataError(f"the corpus has {len(stream)} tokens, fewer than one block of {block_size}")
    blocks = []
    for index in range(n_blocks):
        chunk = tuple(stream[index * block_size : (index + 1) * block_size])
        blocks.append(TokenizedExample(id=f"block{index:05d}", input_ids=chunk, labels=chunk))
    return blocks
