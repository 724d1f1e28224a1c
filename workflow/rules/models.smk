# Stage: the base model the embedded default builds itself — a small GPT-2 with the real
# GPT-2 tokenizer, pre-trained on the shipped corpus for a bounded CPU budget so that prompt
# tuning has pre-trained features to steer. Models named by a hub name or a local directory
# (models.<name>.pretrained) need no rule: they are loaded through the same from_pretrained.
# A vision model (modality: vision) is a tiny ViT pre-trained on procedurally drawn shapes.


rule pretrain_base:
    input:
        unpack(pretraining_inputs),
    output:
        directory(res("models/{model}")),
    params:
        build=lambda wildcards: model_config(wildcards.model)["build"],
        pretrain=lambda wildcards: model_config(wildcards.model)["pretrain"],
        seed=config["seed"],
        modality=lambda wildcards: model_config(wildcards.model)["modality"],
        # Fixed, not the threads Snakemake grants (fewer with --cores 1): torch's float
        # results depend on its thread count, and a rerun must give identical weights.
        torch_threads=lambda wildcards: 1 if is_vision_model(wildcards.model) else 2,
    log:
        res("logs/pretrain_base/{model}.log"),
    benchmark:
        res("benchmarks/pretrain_base/{model}.tsv")
    threads: lambda wildcards: 1 if is_vision_model(wildcards.model) else 2  # tiny ViT ops do not split well
    resources:
        mem_mb=training_mem_mb,
        runtime=lambda wildcards: 10 + model_config(wildcards.model)["pretrain"]["steps"] // 20,
        gpu=config["tuning"]["gpus"],
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/pretrain_base.py"
