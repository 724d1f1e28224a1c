"""Score one model variant on a task's test split (rule evaluate).

Text: greedy generations scored with BERTScore by the task's scorer; vision: the classifier's prediction per image.
"""

import torch

from brainalign.io import setup_logging
from brainalign.tables import write_frame

snakemake = globals()["snakemake"]
logger = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
settings = params.evaluation
checkpoint = snakemake.input.checkpoint or None
if params.modality == "vision":
    from brainalign.image_evaluation import classify
    from brainalign.tasks.images import read_image_split
    from brainalign.tuning.vision import load_vision_tuned

    split = read_image_split(snakemake.input.test)
    model = load_vision_tuned(params.model_source, checkpoint, snakemake.wildcards.method)
    per_example = classify(model, split.images, split.labels, batch_size=settings["batch_size"])
    write_frame(per_example, snakemake.output[0])
    logger.info("%s: %d images, accuracy %.4f", split.display_name, len(per_example), per_example["correct"].mean())
else:
    from brainalign.evaluation import ScorerSettings, evaluate_generations, generate, resolve_scorer
    from brainalign.tasks.text import read_split
    from brainalign.tuning.methods import load_tuned

    scorer = resolve_scorer(ScorerSettings(**params.scorer))  # checked before the model generates
    records = read_split(snakemake.input.test)
    model, tokenizer = load_tuned(params.model_source, checkpoint, snakemake.wildcards.method)
    generations = generate(
        model, tokenizer, [r["prompt"] for r in records], max_new_tokens=settings["max_new_tokens"],
        batch_size=settings["batch_size"],
    )
    per_example = evaluate_generations(records, generations, scorer=scorer)
    write_frame(per_example, snakemake.output[0])
    logger.info(
        "%d examples, mean BERTScore F1 %.4f (scorer %s, layer %d, %s)%s", len(per_example), per_example["f1"].mean(),
        scorer.name, scorer.num_layers, scorer.language, f": {scorer.note}" if scorer.note else "",
    )
