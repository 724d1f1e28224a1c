# Stage: the base model the embedded default builds itself — a small GPT-2 with the real
# GPT-2 tokenizer, pre-trained on the shipped corpus for a bounded CPU budget so that prompt
# tuning has pre-trained features to steer. Models named by a hub name or a local directory
# (models.<name>.pretrained) need no rule: they are loaded through the same from_pretrained.


rule pretrain_base:
    input:
        corpus=lambda wildcards: resource(model_config(wildcards.model)["pretrain"]["corpus"]),
    output:
        directory("results/models/{model}"),
    params:
        build=lambda wildcards: model_config(wildcards.model)["build"],
        pretrain=lambda wildcards: model_config(wildcards.model)["pretrain"],
        seed=config["seed"],
        # Fixed, not the threads Snakemake grants (fewer with --cores 1): torch's float
        # results depend on its thread count, and a rerun must give identical weights.
        torch_threads=2,
    log:
        "results/logs/pretrain_base/{model}.log",
    benchmark:
        "results/benchmarks/pretrain_base/{model}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=lambda wildcards: 10 + model_config(wildcards.model)["pretrain"]["steps"] // 20,
        gpu=config["tuning"]["gpus"],
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/pretrain_base.py"
