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
        mem_mb=mem_mb_from_inputs(10, 1000),
        runtime=runtime_from_inputs(0.1, 5),
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/tables.py"
