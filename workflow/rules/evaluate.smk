# Stage 4: task quality. Greedy generations on the test split of every task for the base,
# prompt-tuned and fine-tuned model, scored with BERTScore against the references.


rule evaluate:
    input:
        test="results/tasks/{task}/test.jsonl",
        model=built_model_input,
        checkpoint=checkpoint_dir,
    output:
        "results/evaluation/{model}/{task}/{method}.csv",
    params:
        model_source=lambda wildcards: model_source(wildcards.model),
        evaluation=config["evaluation"],
    log:
        "results/logs/evaluate/{model}/{task}/{method}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}/{task}/{method}.tsv"
    threads: 1
    resources:
        mem_mb=evaluation_mem_mb,
        runtime=30,
        gpu=config["tuning"]["gpus"],
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/evaluate.py"


rule task_scores:
    input:
        evaluation_outputs(),
    output:
        scores="results/tables/task_scores.csv",
        table1="results/tables/paper/table1_bertscore.csv",
    params:
        metric="bertscore_f1",
    log:
        "results/logs/task_scores.log",
    benchmark:
        "results/benchmarks/task_scores.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(10, 1000),
        runtime=5,
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/task_scores.py"
