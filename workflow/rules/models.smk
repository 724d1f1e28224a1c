# Stage: base models the workflow builds itself (the embedded default's small GPT-2).
# Models named by a hub name or a local directory (config key models.<name>.pretrained) need
# no rule: feature extraction loads them directly through the same from_pretrained path.


rule build_base_model:
    output:
        directory("results/models/{model}"),
    params:
        build=lambda wildcards: model_config(wildcards.model)["build"],
        seed=config["seed"],
    log:
        "results/logs/build_base_model/{model}.log",
    benchmark:
        "results/benchmarks/build_base_model/{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/build_base_model.py"
