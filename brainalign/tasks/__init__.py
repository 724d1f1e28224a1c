"""Tasks models are tuned on: text generation (``text``) and image classification (``images``,
``image_formats``, ``shapes``); prompts and data are shared by every tuning method."""
