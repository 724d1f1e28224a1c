# Stage 4: task quality. Greedy generations on the test split of every task for the base,
# prompt-tuned and fine-tuned model, scored with BERTScore against the references by a scorer
# for the task's language (brainalign.evaluation.scorers; docs/fair-contest.md). Vision
# models: held-out accuracy of each method's classifier (paper Table VI).


rule evaluate:
    input:
        test=evaluation_test_split,
        model=built_model_input,
        checkpoint=checkpoint_dir,
    output:
        res("evaluation/{model}/{task}/{method}.csv"),
    params:
        model_source=lambda wildcards: model_source(wildcards.model),
        evaluation=config["evaluation"],
        scorer=evaluation_scorer,
        modality=lambda wildcards: model_config(wildcards.model)["modality"],
    log:
        res("logs/evaluate/{model}/{task}/{method}.log"),
    benchmark:
        res("benchmarks/evaluate/{model}/{task}/{method}.tsv")
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
        scores=report(
            res("tables/task_scores.csv"), caption="../report/task_scores.rst", category="Tables", labels={"table": "task scores"}
        ),
        table1=report(
            res("tables/paper/table1_bertscore.csv"),
            caption="../report/table1.rst",
            category="Tables",
            labels={"table": "paper Table I"},
        ),
        table6=report(
            res("tables/paper/table6_accuracy.csv"),
            caption="../report/table6.rst",
            category="Tables",
            labels={"table": "paper Table VI"},
        ),
    params:
        metric="bertscore_f1",
        methods=["base", *tuned_methods()],
        image_tasks=lambda wildcards: {task: task_config(task) for task in image_tasks()},
        configured=configured_variants(),
    log:
        res("logs/task_scores.log"),
    benchmark:
        res("benchmarks/task_scores.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(10, 1000),
        runtime=5,
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/task_scores.py"
