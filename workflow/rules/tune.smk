# Stage 3: tuned checkpoints, one job per model x task x method. prompt = a PEFT soft prompt
# on a frozen backbone; finetune = every weight trainable. Same data, steps, batch size, data
# order and seed for both: only what is trainable and the learning rate differ. Each job
# trains every learning rate of its method's grid (all grids of one size) and keeps the winner
# on validation data; tables/tuning.csv (rule tuning_table, report.smk) gathers the searches.
# Vision models (ViT) on image tasks: base = a linear head on the frozen backbone, prompt =
# visual prompts + head, finetune = everything; budget from tuning.vision.


rule tune:
    input:
        unpack(tuning_inputs),
    output:
        checkpoint=directory(res("checkpoints/{model}/{task}/{method}")),
        loss=res("checkpoints/{model}/{task}/{method}.loss.csv"),
    params:
        model_source=lambda wildcards: model_source(wildcards.model),
        settings=tuning_settings,
        modality=lambda wildcards: model_config(wildcards.model)["modality"],
    log:
        res("logs/tune/{model}/{task}/{method}.log"),
    benchmark:
        res("benchmarks/tune/{model}/{task}/{method}.tsv")
    threads: 1
    resources:
        mem_mb=training_mem_mb,
        runtime=tuning_runtime,
        gpu=config["tuning"]["gpus"],
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/tune.py"
