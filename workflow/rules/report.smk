# Stage 7: long-format result tables gathered from every per-subject ridge result, and the
# reference paper's per-ROI pivots (its Tables II-V: rows task, columns method).


rule tables:
    input:
        ridge_outputs(),
    output:
        decoding="results/tables/decoding.csv",
        encoding="results/tables/encoding.csv",
        pivots="results/tables/paper/tables2to5_decoding.csv",
    params:
        pivot_metric="2v2",
    log:
        "results/logs/tables.log",
    benchmark:
        "results/benchmarks/tables.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/tables.py"


# The vision arm's brain tables: the reference paper's Tables VII (LOC) and VIII (OPA), plus
# PPA, RSC and EarlyVis, for decoding and encoding; image tasks under their honest names.
rule vision_tables:
    input:
        decoding="results/tables/decoding.csv",
        encoding="results/tables/encoding.csv",
    output:
        "results/tables/paper/tables7to8_bold5000.csv",
    params:
        task_settings=lambda wildcards: {task: task_config(task) for task in image_tasks()},
        pivot_metric="2v2",
    log:
        "results/logs/vision_tables.log",
    benchmark:
        "results/benchmarks/vision_tables.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/vision_tables.py"
