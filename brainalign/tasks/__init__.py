"""Tasks models are tuned on: text generation (``text``, built from ``text_examples``, ``text_local``,
``text_hub``, ``text_splits`` and ``subsets``) and image classification (``images``,
``image_formats``, ``shapes``); prompts and data are shared by every tuning method."""
